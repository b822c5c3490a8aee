"""Figures of GAN training: generated images beside real ones, a ProGAN's growth, loss curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers

import matplotlib.pyplot as plt
import numpy as np

from gandct.fileio import atomic_path

SAMPLES_SHOWN = 64  # images per panel of a samples figure


def image_grid(images: np.ndarray, columns: int, gap: int = 2) -> np.ndarray:
    """Tile uint8 images (count, height, width, 3) row by row, `columns` per row, with white gaps."""
    count, height, width, channels = images.shape
    rows = max(1, -(-count // columns))
    grid = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap, channels), 255, np.uint8)
    for index, image in enumerate(images):
        top, left = (index // columns) * (height + gap), (index % columns) * (width + gap)
        grid[top : top + height, left : left + width] = image
    return grid


def upscale(images: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour enlargement of square images to `size` pixels, so each pixel stays visible."""
    factor = size // images.shape[1]
    return images.repeat(factor, axis=1).repeat(factor, axis=2) if factor > 1 else images


def _save(figure: plt.Figure, path: Path) -> None:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100, bbox_inches="tight")
    plt.close(figure)


def save_samples_figure(
    path: Path, reals: np.ndarray, fakes: np.ndarray, fake_title: str, real_title: str = "real (train split)"
) -> None:
    """Two panels at the same pixel size: real images left, generated images right, 8 per row."""
    figure, axes = plt.subplots(1, 2, figsize=(12, 6.4))
    for axis, images, title in zip(axes, (reals, fakes), (real_title, fake_title), strict=True):
        axis.imshow(image_grid(images, 8), interpolation="nearest")
        axis.set_title(f"{title}, {images.shape[1]}x{images.shape[2]}")
        axis.axis("off")
    _save(figure, path)


def save_growth_figure(path: Path, grids: Mapping[int, np.ndarray], columns: int = 6) -> None:
    """One panel per resolution: the same latent vectors rendered after each resolution's stable phase."""
    resolutions = sorted(grids)
    size = max(resolutions)
    figure, axes = plt.subplots(1, len(resolutions), figsize=(3.2 * len(resolutions), 3.6), squeeze=False)
    for axis, res in zip(axes[0], resolutions, strict=True):
        axis.imshow(image_grid(upscale(grids[res], size), columns), interpolation="nearest")
        axis.set_title(f"{res}x{res}")
        axis.axis("off")
    figure.suptitle("ProGAN growth: one latent grid after each resolution (pixels enlarged to the final size)")
    _save(figure, path)


def save_loss_figure(
    path: Path,
    steps: np.ndarray,
    series: Mapping[str, np.ndarray],
    title: str,
    boundaries: Sequence[tuple[float, str]] = (),
    smooth: int = 25,
) -> None:
    """Loss curves per training step (faint: raw, solid: moving average), with labelled phase starts."""
    figure, axis = plt.subplots(figsize=(10, 4.5))
    for name, values in series.items():
        (line,) = axis.plot(steps, values, alpha=0.25, linewidth=0.8)
        if len(values) >= smooth:
            kernel = np.ones(smooth) / smooth
            axis.plot(
                steps[smooth - 1 :], np.convolve(values, kernel, mode="valid"), color=line.get_color(), label=name
            )
        else:
            line.set_label(name)
    for step, label in boundaries:
        axis.axvline(step, color="gray", linewidth=0.6, linestyle=":")
        axis.text(step, 1.0, f" {label}", rotation=90, va="top", fontsize=7, transform=axis.get_xaxis_transform())
    axis.set_xlabel("training step")
    axis.set_ylabel("loss")
    axis.set_title(title)
    axis.legend(loc="lower right")
    _save(figure, path)


def save_note_figure(path: Path, text: str) -> None:
    """A figure holding one sentence: where a figure has nothing to show, it says why."""
    figure, axis = plt.subplots(figsize=(8, 1.5))
    axis.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    axis.axis("off")
    _save(figure, path)
