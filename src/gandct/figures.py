"""Matplotlib figures shared by the stages; every figure is written atomically as a PNG."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and CI
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from gandct.fileio import atomic_path


def save_figure(figure: plt.Figure, path: Path) -> None:
    """Write a figure as a PNG atomically and close it."""
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=120, format="png")
    plt.close(figure)


def plot_training_curves(histories: dict[str, dict[str, list[float]]], path: Path) -> None:
    """Loss and accuracy per epoch, training (dashed) and validation (solid), one colour per model."""
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    for index, (name, history) in enumerate(histories.items()):
        colour = f"C{index}"
        epochs = range(1, len(history["loss"]) + 1)
        marker = "o" if len(epochs) == 1 else None  # a single fit (the linear baseline) shows as points
        loss_axis.plot(epochs, history["loss"], "--", color=colour, marker=marker, label=f"{name} train")
        loss_axis.plot(epochs, history["val_loss"], "-", color=colour, marker=marker, label=f"{name} val")
        accuracy_axis.plot(epochs, history["accuracy"], "--", color=colour, marker=marker)
        accuracy_axis.plot(epochs, history["val_accuracy"], "-", color=colour, marker=marker)
    loss_axis.set(xlabel="epoch", ylabel="binary cross-entropy", title="loss", yscale="log")
    accuracy_axis.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    loss_axis.legend(fontsize=8)
    for axis in (loss_axis, accuracy_axis):
        axis.grid(alpha=0.3)
    save_figure(figure, path)


def plot_coefficient_weights(weights: np.ndarray, path: Path) -> None:
    """A linear detector's weight per DCT coefficient (channels averaged): red pushes towards fake."""
    values = weights.mean(axis=-1)
    limit = float(np.abs(values).max()) or 1.0
    figure, axis = plt.subplots(figsize=(5.2, 4.4), layout="constrained")
    shown = axis.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
    outline_high_frequency_quadrant(axis, values.shape)
    axis.set(
        title="logistic regression weight per coefficient", xlabel="horizontal frequency", ylabel="vertical frequency"
    )
    figure.colorbar(shown, ax=axis, fraction=0.046, label="weight (red: evidence for fake)")
    save_figure(figure, path)


def plot_profile_weights(weights: np.ndarray, path: Path) -> None:
    """A logistic regression's weight per point of the radial Fourier profile (durall): above 0 pushes towards fake."""
    figure, axis = plt.subplots(figsize=(5.6, 3.4), layout="constrained")
    frequency = np.linspace(0, 1, len(weights))
    axis.plot(frequency, weights, color="C3")
    axis.axhline(0, color="grey", linewidth=0.8)
    axis.set(
        title="logistic regression weight per radial frequency",
        xlabel="radius (0: zero frequency, 1: the spectrum's corner)",
        ylabel="weight (above 0: evidence for fake)",
    )
    axis.grid(alpha=0.3)
    save_figure(figure, path)


def plot_neighbour_points(points: np.ndarray, labels: np.ndarray, path: Path) -> None:
    """The standardised power-law features a neighbour vote (dzanic) stores, decay exponent against the fitted
    range's last value, reals and fakes apart."""
    figure, axis = plt.subplots(figsize=(5.2, 4.4), layout="constrained")
    for label, name, colour in ((0, "real", "C0"), (1, "fake", "C3")):
        chosen = labels == label
        axis.scatter(points[chosen, 0], points[chosen, 2], s=4, alpha=0.4, color=colour, label=name)
    axis.set(
        title="the train points the neighbours vote among",
        xlabel="decay exponent (standardised)",
        ylabel="last magnitude of the fitted range (standardised)",
    )
    axis.legend(markerscale=3)
    axis.grid(alpha=0.3)
    save_figure(figure, path)


def plot_data_efficiency(
    results: dict[str, dict[str, list[dict]]],
    sizes: dict[str, int],
    claims: dict[str, tuple[int, float]],
    path: Path,
) -> None:
    """Test accuracy and ROC AUC against training images per class (log scale), one line per detector through
    the mean of its draws, every draw a dot; a paper's claimed (images per class, accuracy) as a star."""
    figure, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    for axis, metric, title in zip(
        axes, ("accuracy", "roc_auc"), ("accuracy at the val threshold", "ROC AUC"), strict=True
    ):
        for position, (name, by_size) in enumerate(results.items()):
            colour = f"C{position}"
            xs = [sizes[size] for size in by_size]
            means = [np.mean([entry[metric] for entry in entries]) for entries in by_size.values()]
            axis.plot(xs, means, "-", color=colour, label=name)
            for x, entries in zip(xs, by_size.values(), strict=True):
                axis.plot([x] * len(entries), [entry[metric] for entry in entries], "o", color=colour, alpha=0.4, ms=3)
            if metric == "accuracy" and name in claims:
                axis.plot(*claims[name], "*", color=colour, ms=12, label=f"{name}: the paper's claim")
        axis.set_xscale("log")
        ticks = sorted(set(sizes.values()))
        axis.set_xticks(ticks, [str(tick) for tick in ticks])
        axis.minorticks_off()
        axis.axhline(0.5, color="grey", linestyle=":", linewidth=1)
        axis.set(
            xlabel="training images per class", ylabel=title, title=f"test set (ProGAN): {title}", ylim=(0.3, 1.02)
        )
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="lower right")
    save_figure(figure, path)


def plot_roc_curves(curves: dict[str, tuple[np.ndarray, np.ndarray, float]], path: Path, title: str) -> None:
    """ROC curves of several models on one plot; `curves` maps a model to (fpr, tpr, auc)."""
    figure, axis = plt.subplots(figsize=(5, 5), layout="constrained")
    for name, (fpr, tpr, auc) in curves.items():
        axis.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f})")
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


def outline_high_frequency_quadrant(axis: plt.Axes, shape: tuple[int, ...]) -> None:
    """Draw the bottom-right (highest-frequency) quadrant of a DCT map."""
    height, width = shape[:2]
    corner = (width / 2 - 0.5, height / 2 - 0.5)  # pixel centres sit on integers
    axis.add_patch(Rectangle(corner, width / 2, height / 2, fill=False, edgecolor="white", linewidth=1.2))


def plot_saliency_examples(
    spectra: np.ndarray, vanilla: np.ndarray, smooth: np.ndarray, captions: list[str], model: str, path: Path
) -> None:
    """For each example: its z-scored DCT map, vanilla saliency and SmoothGrad saliency, quadrant outlined."""
    figure, axes = plt.subplots(len(spectra), 3, figsize=(8.5, 2.7 * len(spectra)), squeeze=False, layout="constrained")
    for row, (spectrum, plain, smoothed, caption) in enumerate(zip(spectra, vanilla, smooth, captions, strict=True)):
        panels = ((spectrum.mean(axis=-1), "DCT map (z-scored)", "coolwarm"), (plain, "saliency", "inferno"))
        for axis, (values, title, cmap) in zip(axes[row], (*panels, (smoothed, "SmoothGrad", "inferno")), strict=True):
            axis.imshow(values, cmap=cmap, interpolation="nearest")
            outline_high_frequency_quadrant(axis, values.shape)
            axis.set_xticks([])
            axis.set_yticks([])
            axis.set_title(f"{caption}: {title}" if title.startswith("DCT") else title, fontsize=9)
    figure.suptitle(f"{model}: where the detector looks\n(top-left: low frequencies, bottom-right: high)")
    save_figure(figure, path)


def plot_mean_saliency(maps: dict[str, np.ndarray], shares: dict[str, float], path: Path) -> None:
    """Mean saliency map of each model over a test set, with its high-frequency-quadrant share."""
    figure, axes = plt.subplots(1, len(maps), figsize=(4.6 * len(maps), 4.2), squeeze=False, layout="constrained")
    for axis, (name, mean_map) in zip(axes[0], maps.items(), strict=True):
        shown = axis.imshow(mean_map / mean_map.sum(), cmap="inferno", interpolation="nearest")
        outline_high_frequency_quadrant(axis, mean_map.shape)
        axis.set_title(f"{name}: {shares[name]:.0%} of saliency in the outlined quadrant\n(uniform: 25%)", fontsize=9)
        axis.set_xticks([])
        axis.set_yticks([])
        figure.colorbar(shown, ax=axis, fraction=0.046, label="share of saliency mass")
    save_figure(figure, path)


def plot_image_and_heatmap(image: np.ndarray, heatmap: np.ndarray, title: str, path: Path) -> None:
    """An image beside its log-DCT heatmap (lowest frequency top-left), high-frequency quadrant outlined."""
    figure, (image_axis, map_axis) = plt.subplots(1, 2, figsize=(10, 4.4), layout="constrained")
    image_axis.imshow(image.squeeze(), cmap="gray" if image.shape[-1] == 1 else None, vmin=0, vmax=255)
    image_axis.set_title(title, fontsize=9)
    image_axis.set_axis_off()
    low, high = np.percentile(heatmap, [0.5, 99.5])  # a few exact zeros would otherwise stretch the scale
    shown = map_axis.imshow(heatmap, cmap="viridis", vmin=low, vmax=high, interpolation="nearest")
    outline_high_frequency_quadrant(map_axis, heatmap.shape)
    map_axis.set(
        title="log|DCT| (outlined: highest frequencies)", xlabel="horizontal frequency", ylabel="vertical frequency"
    )
    figure.colorbar(shown, ax=map_axis, fraction=0.046, label="natural log of |coefficient|")
    save_figure(figure, path)


def plot_band_profiles(
    centres: np.ndarray,
    saliency: dict[str, np.ndarray],
    difference: np.ndarray,
    uniform: np.ndarray,
    path: Path,
    title: str,
) -> None:
    """One panel per detector: its saliency share per diagonal band beside that of |fake - real|.

    All three profiles are shares of a map's mass per band (`gandct.frequency_measures.band_profile`), drawn
    at the bands' centres (`band_centres`); `uniform` is a flat map's profile, the chance level, since bands
    hold unequal numbers of coefficients.
    """
    figure, axes = plt.subplots(
        1, len(saliency), figsize=(4.6 * len(saliency), 3.8), squeeze=False, sharey=True, layout="constrained"
    )
    for axis, (name, profile) in zip(axes[0], saliency.items(), strict=True):
        axis.plot(centres, profile, "o-", label=f"{name} saliency")
        axis.plot(centres, difference, "s-", color="C3", label="|fake - real| log-spectrum")
        axis.plot(centres, uniform, ":", color="grey", label="uniform map")
        axis.set(title=name, xlabel="diagonal frequency (0: DC, 1: bottom-right corner)")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    axes[0][0].set_ylabel("share of the map's mass per band")
    figure.suptitle(title)
    save_figure(figure, path)


def plot_difference_peaks(difference: np.ndarray, peaks: np.ndarray, path: Path, title: str) -> None:
    """The signed mean fake - real log-spectrum with the up-sampling peaks found in it circled."""
    figure, axis = plt.subplots(figsize=(5.4, 4.6), layout="constrained")
    limit = float(np.abs(difference).max()) or 1.0
    shown = axis.imshow(difference, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
    rows, columns = np.asarray(peaks, int).reshape(-1, 2).T
    axis.scatter(columns, rows, s=60, facecolors="none", edgecolors="black", linewidths=1.2)
    axis.set(
        title=f"{title}\n{len(rows)} peaks found (circled)",
        xlabel="horizontal frequency (low -> high)",
        ylabel="vertical frequency (low -> high)",
    )
    figure.colorbar(shown, ax=axis, fraction=0.046, label="log ratio (red: more energy in fakes)")
    save_figure(figure, path)


def plot_twin_pairs(
    reals: np.ndarray,
    twins: np.ndarray,
    differences: np.ndarray,
    mean_difference: np.ndarray,
    saliency: dict[str, np.ndarray],
    family: str,
    path: Path,
) -> None:
    """A row of real images, the row of their twins below, and each pair's log-spectrum difference (twin minus
    real, channels averaged) below that; then the mean difference over every pair, and beside it each
    detector's mean saliency map on the same set (`saliency`: name -> map), to compare where they lie."""
    count, extra = len(reals), 1 + len(saliency)
    figure, axes = plt.subplots(
        3, count + extra, figsize=(1.9 * (count + extra), 6.2), squeeze=False, layout="constrained"
    )
    limit = float(np.percentile(np.abs(differences), 99)) or 1.0
    for column in range(count):
        for axis, image in ((axes[0, column], reals[column]), (axes[1, column], twins[column])):
            axis.imshow(image.squeeze(), cmap="gray" if image.shape[-1] == 1 else None, vmin=0, vmax=255)
        shown = axes[2, column].imshow(
            differences[column], cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest"
        )
    for axis, title in zip(axes[:, 0], ("photo", f"{family} twin", "twin minus photo"), strict=True):
        axis.set_title(title, loc="left", fontsize=10)
    mean_limit = float(np.abs(mean_difference).max()) or 1.0
    mean_shown = axes[2, count].imshow(
        mean_difference, cmap="RdBu_r", vmin=-mean_limit, vmax=mean_limit, interpolation="nearest"
    )
    axes[2, count].set_title("mean over all pairs", fontsize=9)
    outline_high_frequency_quadrant(axes[2, count], mean_difference.shape)
    for column, (name, mean_map) in enumerate(saliency.items(), start=count + 1):
        axes[2, column].imshow(mean_map, cmap="magma", interpolation="nearest")
        axes[2, column].set_title(f"{name} saliency", fontsize=9)
        outline_high_frequency_quadrant(axes[2, column], mean_map.shape)
    for axis in axes.ravel():
        axis.set_axis_off()
    figure.colorbar(shown, ax=axes[2, :count], fraction=0.03, label="log|DCT| ratio")
    figure.colorbar(mean_shown, ax=axes[2, count], fraction=0.1)
    figure.suptitle(f"test photos and their {family} twins: the same content, up-sampled by the decoder")
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
    figure, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, 2.8 * rows), squeeze=False, layout="constrained")
    for axis in axes.ravel()[len(per_seed) :]:
        axis.set_axis_off()
    for axis, (test_set, by_detector) in zip(axes.ravel(), per_seed.items(), strict=False):
        for position, (name, values) in enumerate(by_detector.items()):
            offsets = np.linspace(-0.15, 0.15, len(values)) if len(values) > 1 else np.zeros(1)
            axis.plot(position + offsets, values, "o", color=f"C{position}", alpha=0.7, markersize=4)
            axis.plot([position - 0.25, position + 0.25], [np.mean(values)] * 2, "-", color="black", linewidth=1.5)
            axis.plot(position + 0.32, ensemble[test_set][name], "*", color=f"C{position}", markersize=9)
        axis.set_xticks(range(len(by_detector)), list(by_detector), fontsize=8)
        axis.set_title(test_set, fontsize=9)
        axis.grid(alpha=0.3, axis="y")
    for row in axes:
        row[0].set_ylabel(metric)
    figure.suptitle(f"{metric} per test set: each seed (dots), their mean (bar), the seed ensemble (star)")
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


def plot_reliability(by_set: dict[str, dict[str, list]], title: str, path: Path) -> None:
    """The reliability diagram of one detector: per test set (name -> `reliability`'s bins), the share of fakes
    against the mean p_fake of each non-empty bin, with the diagonal a calibrated detector lies on."""
    figure, axis = plt.subplots(figsize=(6.4, 5.4), layout="constrained")
    axis.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1, label="calibrated")
    for name, bins in by_set.items():
        kept = [i for i, count in enumerate(bins["count"]) if count]
        axis.plot(
            [bins["mean_p_fake"][i] for i in kept],
            [bins["share_fake"][i] for i in kept],
            marker="o",
            markersize=3,
            label=f"{name} (ECE {bins['expected_calibration_error']:.3f})",
        )
    axis.set(xlim=(0, 1), ylim=(0, 1), xlabel="mean p_fake in the bin", ylabel="share of fakes in the bin")
    axis.set_title(title, fontsize=10)
    axis.legend(fontsize=7, loc="upper left")
    save_figure(figure, path)
