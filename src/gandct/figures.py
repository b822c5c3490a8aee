"""Matplotlib figures: how every figure is written (atomically, as a PNG), the training figures the train stage
draws, and the few the commands draw. The report's and the saliency stage's figures are in their own modules."""

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


def outline_high_frequency_quadrant(axis: plt.Axes, shape: tuple[int, ...]) -> None:
    """Draw the bottom-right (highest-frequency) quadrant of a DCT map."""
    height, width = shape[:2]
    corner = (width / 2 - 0.5, height / 2 - 0.5)  # pixel centres sit on integers
    axis.add_patch(Rectangle(corner, width / 2, height / 2, fill=False, edgecolor="white", linewidth=1.2))


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
