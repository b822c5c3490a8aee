"""Multi-scale sliced Wasserstein distance (SWD) between sets of images: how far a generator's fakes are from
the reals, patch statistics level by level of a Laplacian pyramid.

Source: Karras et al. 2018, "Progressive Growing of GANs for Improved Quality, Stability, and Variation"
(ICLR), Sec. 5 and Appendix D, and the algorithm of their `metrics/sliced_wasserstein.py`:

1. a Laplacian pyramid of each image (OpenCV's pyrDown / pyrUp), from the full resolution down to 16x16;
   the smallest level is the low-pass image itself;
2. per image and level, `neighbourhoods` random 7x7 neighbourhoods, each a descriptor of 7 * 7 * 3 values;
3. each set's descriptors of a level normalised per channel (zero mean, unit std over the set);
4. per level, the sliced Wasserstein distance: the descriptors of both sets projected onto random unit
   directions (`directions` of them, drawn afresh `repeats` times: 128 x 4, the paper's 512), each projection
   sorted, and the mean absolute difference of the sorted values;
5. reported as SWD x 1e3 per level; the average over the levels is the headline number.

Two choices beyond the reference code, neither changing what is measured: the neighbourhood positions of an
image are drawn from a generator seeded by the image's bytes (and the seed), so the result does not depend on
the order of the images and a set against itself is exactly 0; and several sets are compared with one
reference set in one pass, sharing its sorted projections. Because of step 3 the distance ignores a change of
brightness or contrast per channel; it sees changes of texture, sharpness and how the channels vary together.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import cv2
import numpy as np

from gandct.logs import progress

NEIGHBOURHOOD = 7  # side of the square neighbourhoods, in pixels
SMALLEST_LEVEL = 16  # the pyramid stops at the last level at least this large
MIN_STD = 1e-6  # a channel constant over a whole set is centred, not scaled


def pyramid_sides(side: int) -> list[int]:
    """Sides of the Laplacian pyramid's levels: side, side / 2, ... down to 16 (only `side` if it is smaller)."""
    sides = [side]
    while sides[-1] % 2 == 0 and sides[-1] // 2 >= SMALLEST_LEVEL:
        sides.append(sides[-1] // 2)
    return sides


def laplacian_pyramid(images: np.ndarray, levels: int) -> list[np.ndarray]:
    """Laplacian pyramid of a batch (N, H, W, C) as float32 arrays, finest first; the last level is low-pass."""
    pyramid = [np.asarray(images, dtype=np.float32)]
    for _ in range(levels - 1):
        finer = pyramid[-1]
        count, side, _, channels = finer.shape
        coarser = np.stack([cv2.pyrDown(image) for image in finer]).reshape(count, side // 2, side // 2, channels)
        expanded = np.stack([cv2.pyrUp(image, dstsize=(side, side)) for image in coarser])
        pyramid[-1] = finer - expanded.reshape(finer.shape)
        pyramid.append(coarser)
    return pyramid


def position_fractions(images: np.ndarray, count: int, levels: int, seed: int) -> np.ndarray:
    """Where each image's neighbourhoods lie, as fractions in [0, 1): (N, levels, count, 2) rows and columns.

    Each image's draws come from a generator seeded by `seed` and the image's bytes, so a set's descriptors
    do not depend on the order of its images.
    """
    fractions = np.empty((len(images), levels, count, 2))
    for index, image in enumerate(images):
        key = int.from_bytes(hashlib.blake2b(np.ascontiguousarray(image), digest_size=8).digest(), "little")
        fractions[index] = np.random.default_rng([seed, 1, key]).random((levels, count, 2))
    return fractions


def descriptors(level: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """The 7x7 neighbourhoods of one pyramid level (N, S, S, C) at `fractions` (N, count, 2), normalised per
    channel over the whole set: float32 (N * count, 49 * C), components in (row, column, channel) order."""
    count, side, _, channels = level.shape
    half = NEIGHBOURHOOD // 2
    centres = half + (fractions * (side - 2 * half)).astype(np.intp)  # rows and columns in [3, side - 4]
    corners = (np.arange(count)[:, None] * side + centres[:, :, 0] - half) * side + centres[:, :, 1] - half
    window = np.arange(NEIGHBOURHOOD)[:, None] * side + np.arange(NEIGHBOURHOOD)  # pixel offsets from a corner
    # One row per pixel, its channels contiguous: taking whole rows is the fast gather.
    pixels = np.take(level.reshape(-1, channels), (corners[:, :, None, None] + window).ravel(), axis=0)
    mean = pixels.mean(axis=0, dtype=np.float64)
    square_mean = np.einsum("ij,ij->j", pixels, pixels, dtype=np.float64) / len(pixels)
    std = np.sqrt(np.maximum(square_mean - mean**2, 0.0))
    pixels -= mean.astype(np.float32)
    pixels /= np.where(std < MIN_STD, 1.0, std).astype(np.float32)
    return pixels.reshape(-1, NEIGHBOURHOOD * NEIGHBOURHOOD * channels)


def sliced_wasserstein(
    reference: np.ndarray, others: list[np.ndarray], rng: np.random.Generator, directions: int, repeats: int
) -> list[float]:
    """Sliced Wasserstein distance of each descriptor set in `others` to `reference` (all (M, D), same M):
    the mean over `repeats` x `directions` random unit directions of the mean absolute difference between
    the sorted projections. The reference's sorted projections are shared by all the others."""
    count, dims = reference.shape
    # Reused buffers: fresh 100 MB arrays each repeat would cost more in page faults than the products do.
    sorted_reference = np.empty((directions, count), dtype=np.float32)
    projected = np.empty_like(sorted_reference)
    totals = np.zeros(len(others))
    for _ in range(repeats):
        units = rng.standard_normal((directions, dims))
        units = (units / np.linalg.norm(units, axis=1, keepdims=True)).astype(np.float32)
        np.matmul(units, reference.T, out=sorted_reference)
        sorted_reference.sort(axis=1)
        for index, other in enumerate(others):
            np.matmul(units, other.T, out=projected)
            projected.sort(axis=1)
            projected -= sorted_reference
            np.abs(projected, out=projected)
            totals[index] += projected.mean(dtype=np.float64)
    return list(totals / repeats)


def multiscale_swd(
    reference: np.ndarray,
    others: Mapping[str, np.ndarray],
    *,
    seed: int,
    neighbourhoods: int = 128,
    directions: int = 128,
    repeats: int = 4,
) -> dict[str, np.ndarray]:
    """SWD x 1e3 of each named image set in `others` against `reference`, per pyramid level (finest first;
    their sides are `pyramid_sides(H)`). Every set is (N, H, W, C) with the reference's shape: the distance
    compares sorted samples of equal size. Same images and seed, same numbers."""
    _check_sets(reference, others)
    levels = len(pyramid_sides(reference.shape[1]))
    sets = [reference, *others.values()]
    pyramids = [laplacian_pyramid(images, levels) for images in sets]
    fractions = [position_fractions(images, neighbourhoods, levels, seed) for images in sets]
    rng = np.random.default_rng([seed, 0])
    distances = np.empty((len(others), levels))
    for level in progress(range(levels), desc="SWD levels", unit="level", leave=False):
        # pop: each set's finest remaining level, freed once its descriptors are taken
        described = [
            descriptors(pyramid.pop(0), where[:, level]) for pyramid, where in zip(pyramids, fractions, strict=True)
        ]
        distances[:, level] = sliced_wasserstein(described[0], described[1:], rng, directions, repeats)
    return {name: 1e3 * row for name, row in zip(others, distances, strict=True)}


def _check_sets(reference: np.ndarray, others: Mapping[str, np.ndarray]) -> None:
    shape = reference.shape
    if reference.ndim != 4 or shape[1] != shape[2] or shape[1] < NEIGHBOURHOOD or len(reference) == 0:
        raise ValueError(f"expected a non-empty batch of square images (N, H, W, C) with H >= 7, got {shape}")
    for name, images in others.items():
        if images.shape != shape:
            raise ValueError(f"set {name!r} has shape {images.shape}; every set needs the reference's {shape}")
