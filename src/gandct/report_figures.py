"""The report's figures: samples, spectra, ROC curves, the detectors by generator and by seed, the attributors'
confusion and the shipped detector's reliability. Apart from `gandct.figures` (which the train stage draws with), so
that a change to one of them re-runs the report, not the training."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and CI
import matplotlib.pyplot as plt
import numpy as np

from gandct.figures import outline_high_frequency_quadrant, save_figure


def plot_roc_curves(curves: dict[str, tuple[np.ndarray, np.ndarray, float]], path: Path, title: str) -> None:
    """ROC curves of several models on one plot; `curves` maps a model to (fpr, tpr, auc)."""
    figure, axis = plt.subplots(figsize=(5, 5), layout="constrained")
    # Near-perfect detectors share the top-left corner: each its own dash and width, the first drawn on top.
    styles = ("-", "--", "-.", ":")
    for index, (name, (fpr, tpr, auc)) in enumerate(curves.items()):
        style = {"linestyle": styles[index % len(styles)], "linewidth": 2.6 - 0.3 * index, "zorder": 10 - index}
        axis.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f})", **style)
    axis.plot([0, 1], [0, 1], ":", color="grey", label="chance")
    axis.set(xlabel="false positive rate (reals called fake)", ylabel="true positive rate (fakes caught)", title=title)
    axis.set_aspect("equal")
    axis.legend(loc="lower right", fontsize=8)
    axis.grid(alpha=0.3)
    save_figure(figure, path)


def plot_image_grid(rows: dict[str, list[np.ndarray]], path: Path, title: str) -> None:
    """One row of images per name (e.g. real / progan / dcgan), each image at its own pixel size."""
    columns = max(len(images) for images in rows.values())
    figure, axes = plt.subplots(
        len(rows), columns, figsize=(1.6 * columns, 1.7 * len(rows)), squeeze=False, layout="constrained"
    )
    for row_axes, (name, images) in zip(axes, rows.items(), strict=True):
        for axis in row_axes:
            axis.set_axis_off()
        for axis, image in zip(row_axes, images, strict=False):
            axis.imshow(image.squeeze(), cmap="gray" if image.shape[-1] == 1 else None, vmin=0, vmax=255)
        row_axes[0].set_title(name, loc="left", fontsize=10)
    figure.suptitle(title)
    save_figure(figure, path)


def plot_mean_spectra(real: np.ndarray, fake: np.ndarray, fake_name: str, path: Path) -> None:
    """Mean log-DCT spectra of reals and fakes (one colour scale) and their difference (diverging)."""
    figure, axes = plt.subplots(1, 3, figsize=(14, 4.3), layout="constrained")
    low, high = np.percentile(np.concatenate([real.ravel(), fake.ravel()]), [1, 99])
    for axis, spectrum, name in ((axes[0], real, "real"), (axes[1], fake, fake_name)):
        shown = axis.imshow(spectrum, cmap="viridis", vmin=low, vmax=high, interpolation="nearest")
        axis.set_title(f"mean log|DCT| of {name} images")
        figure.colorbar(shown, ax=axis, fraction=0.046, label="natural log of |coefficient|")
    difference = fake - real
    limit = float(np.abs(difference).max()) or 1.0
    shown = axes[2].imshow(difference, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
    axes[2].set_title(f"{fake_name} minus real")
    figure.colorbar(shown, ax=axes[2], fraction=0.046, label="log ratio (red: more energy in fakes)")
    for axis in axes:
        axis.set(xlabel="horizontal frequency (low -> high)", ylabel="vertical frequency (low -> high)")
        outline_high_frequency_quadrant(axis, real.shape)
    save_figure(figure, path)


def plot_diagonal_profiles(profiles: dict[str, tuple[np.ndarray, np.ndarray]], path: Path) -> None:
    """Mean (and +-1 std band) of the log spectrum along its diagonal (k, k), from DC to the highest frequency."""
    figure, axis = plt.subplots(figsize=(7, 4), layout="constrained")
    for name, (mean, std) in profiles.items():
        steps = np.arange(len(mean))
        axis.plot(steps, mean, label=name)
        axis.fill_between(steps, mean - std, mean + std, alpha=0.2)
    axis.set(
        xlabel="diagonal coefficient (k, k): low -> high frequency",
        ylabel="log|DCT coefficient|",
        title="spectrum along the diagonal",
    )
    axis.legend()
    axis.grid(alpha=0.3)
    save_figure(figure, path)


def plot_generator_heatmap(values: np.ndarray, detectors: list[str], generators: list[str], path: Path) -> None:
    """Detectors (rows) by test generators (columns), `values` (e.g. seed-mean ROC AUC) written in each cell."""
    figure, axis = plt.subplots(figsize=(1.3 * len(generators) + 2.2, 0.6 * len(detectors) + 1.6), layout="constrained")
    # The whole range, centred on chance: below 0.5 a detector ranks the fakes as the more real.
    shown = axis.imshow(values, cmap="RdYlGn", vmin=0.0, vmax=1.0, aspect="auto")
    for row in range(len(detectors)):
        for column in range(len(generators)):
            axis.text(column, row, f"{values[row, column]:.3f}", ha="center", va="center", fontsize=9)
    axis.set_xticks(range(len(generators)), generators, rotation=30, ha="right", fontsize=9)
    axis.set_yticks(range(len(detectors)), detectors, fontsize=9)
    figure.colorbar(shown, ax=axis, label="ROC AUC (0.5: chance, below: fakes ranked as real)")
    axis.set_title("ROC AUC per detector and test generator (seed mean)", fontsize=10)
    save_figure(figure, path)


def plot_seed_spread(
    per_seed: dict[str, dict[str, list[float]]], ensemble: dict[str, dict[str, float]], metric: str, path: Path
) -> None:
    """One panel per test set: every seed's `metric` per detector as dots (spread sideways so equal values stay
    visible), their mean as a bar, the seed ensemble as a star; `per_seed` maps set -> detector -> values."""
    columns = min(3, len(per_seed))
    rows = -(-len(per_seed) // columns)
    # One y scale for every panel, so that a set's spread reads against the others'.
    figure, axes = plt.subplots(
        rows, columns, figsize=(3.6 * columns, 2.8 * rows), squeeze=False, sharey=True, layout="constrained"
    )
    for axis in axes.ravel()[len(per_seed) :]:
        axis.set_axis_off()
    for axis, (test_set, by_detector) in zip(axes.ravel(), per_seed.items(), strict=False):
        for position, (name, values) in enumerate(by_detector.items()):
            offsets = np.linspace(-0.15, 0.15, len(values)) if len(values) > 1 else np.zeros(1)
            axis.plot(position + offsets, values, "o", color=f"C{position}", alpha=0.7, markersize=4)
            axis.plot([position - 0.25, position + 0.25], [np.mean(values)] * 2, "-", color="black", linewidth=1.5)
            axis.plot(position + 0.32, ensemble[test_set][name], "*", color=f"C{position}", markersize=9)
        if metric == "roc_auc":
            axis.axhline(0.5, color="grey", linestyle=":", linewidth=1)  # chance; below it fakes rank as real
        axis.set_xticks(range(len(by_detector)), list(by_detector), fontsize=8)
        axis.set_title(test_set, fontsize=9)
        axis.grid(alpha=0.3, axis="y")
    for row in axes:
        row[0].set_ylabel(metric)
    chance = "; dotted: chance" if metric == "roc_auc" else ""
    figure.suptitle(f"{metric} per test set: each seed (dots), their mean (bar), the seed ensemble (star){chance}")
    save_figure(figure, path)


def plot_confusion_matrices(matrices: dict[str, np.ndarray], classes: list[str], path: Path) -> None:
    """One panel per model: the share of each true source's images (rows) named as each source (columns),
    coloured 0 to 1, with the image counts written in the cells."""
    figure, axes = plt.subplots(
        1, len(matrices), figsize=(4.2 * len(matrices) + 0.8, 4.6), layout="constrained", squeeze=False
    )
    for axis, (title, counts) in zip(axes[0], matrices.items(), strict=True):
        shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        image = axis.imshow(shares, cmap="Blues", vmin=0, vmax=1)
        for row, column in np.ndindex(counts.shape):
            colour = "white" if shares[row, column] > 0.5 else "black"
            axis.text(column, row, str(counts[row, column]), ha="center", va="center", fontsize=7, color=colour)
        axis.set_xticks(range(len(classes)), classes, rotation=60, ha="right", fontsize=8)
        axis.set_yticks(range(len(classes)), classes, fontsize=8)
        axis.set(xlabel="named source", ylabel="true source", title=title)
    figure.colorbar(image, ax=axes[0].tolist(), shrink=0.7, label="share of the true source's images")
    save_figure(figure, path)


def plot_reliability(panels: dict[str, dict[str, dict[str, list]]], title: str, path: Path) -> None:
    """The reliability diagram of one detector, one panel per group of test sets (`panels`: panel title -> set
    name -> `calibration.reliability`'s bins): per non-empty bin the share of fakes against its mean p_fake,
    each marker's area proportional to the bin's images (so a bin of two images does not read as a trend),
    beside the diagonal a calibrated detector lies on."""
    figure, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.9), squeeze=False, layout="constrained")
    for axis, (panel, by_set) in zip(axes[0], panels.items(), strict=True):
        axis.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1, label="calibrated")
        for index, (name, bins) in enumerate(by_set.items()):
            kept = [i for i, count in enumerate(bins["count"]) if count]
            x = [bins["mean_p_fake"][i] for i in kept]
            y = [bins["share_fake"][i] for i in kept]
            sizes = [400 * bins["count"][i] / sum(bins["count"]) for i in kept]
            axis.plot(x, y, color=f"C{index}", linewidth=0.8, alpha=0.6)
            label = f"{name} (ECE {bins['expected_calibration_error']:.3f})"
            axis.scatter(x, y, s=sizes, color=f"C{index}", alpha=0.7, label=label)
        axis.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), xlabel="mean p_fake in the bin", title=panel)
        axis.legend(fontsize=7, loc="upper left", markerscale=0.4)
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel("share of fakes in the bin")
    figure.suptitle(f"{title} (15 bins; marker area: the bin's share of the set's images)", fontsize=10)
    save_figure(figure, path)
