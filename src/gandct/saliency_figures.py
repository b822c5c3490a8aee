"""The saliency stage's figures: example maps, the mean saliency, band profiles, the class difference's peaks and
the twin pairs."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and CI
import matplotlib.pyplot as plt
import numpy as np

from gandct.figures import outline_high_frequency_quadrant, save_figure


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
