"""Radial views of the Fourier spectrum: the inputs of the `durall` and `dzanic` baselines.

Durall et al. 2020, "Unmasking DeepFakes with simple Features" (arXiv 1911.00686), Sec. 3: the gray image's
2-D FFT, shifted so the zero frequency sits in the middle, as a log magnitude (20 log |F|); its azimuthal
average (the mean over each ring of integer radius); that profile resampled (cubic) to a fixed number of
points and divided by its first value. Here the profile has as many points as the image is wide.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np
from scipy import optimize
from scipy.interpolate import CubicSpline

EPS = 1e-8  # added to |F| before the log, as in the authors' notebooks


@functools.cache
def ring_means(height: int, width: int) -> np.ndarray:
    """(height * width, rings) float64: right-multiplying flattened maps gives each ring's mean. Ring r holds
    the coefficients whose distance to the shifted zero frequency (height // 2, width // 2) is in [r, r + 1)."""
    rows, columns = np.indices((height, width))
    radius = np.hypot(rows - height // 2, columns - width // 2).astype(np.int64).ravel()
    members = np.zeros((height * width, radius.max() + 1))
    members[np.arange(height * width), radius] = 1.0
    return members / members.sum(axis=0)


def gray(framed: np.ndarray) -> np.ndarray:
    """float64 (N, H, W) gray images of framed uint8 images (N, H, W, C), with OpenCV's RGB weights."""
    if framed.shape[-1] == 1:
        return framed[..., 0].astype(np.float64)
    return np.stack([cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY) for image in framed]).astype(
        np.float64
    )


def azimuthal_profiles(framed: np.ndarray) -> np.ndarray:
    """float32 (N, W): the Durall profile of each framed uint8 image (N, H, W, C), W points, first point 1."""
    images = gray(np.asarray(framed))
    count, height, width = images.shape
    spectrum = np.fft.fftshift(np.fft.fft2(images), axes=(1, 2))
    log_magnitude = 20 * np.log(np.abs(spectrum) + EPS)
    profiles = log_magnitude.reshape(count, -1) @ ring_means(height, width)
    rings = profiles.shape[1]
    resampled = CubicSpline(np.arange(rings), profiles, axis=1)(np.linspace(0, rings - 1, width))
    return (resampled / resampled[:, :1]).astype(np.float32)


# Dzanic et al. 2020, "Fourier Spectrum Discrepancies in Deep Network Generated Images" (NeurIPS), Sec. 3: the
# Fourier magnitudes beyond half the largest radius, binned by radius and smoothed; a power law fitted to the
# bins beyond 0.85 of it gives three features: the decay exponent and the fitted range's first and last values.
HIGH_FROM = 0.5  # share of the largest radius above which coefficients are binned
FIT_FROM = 0.85  # share of the largest radius above which the power law is fitted
BIN_WIDTH = 0.5  # pixels of radius per bin (theirs: 200 bins over 0.5-1 of a 1024 px image's radius, ~1.8 px)
SMOOTH = 5  # moving-average span over the bins, shrinking at the ends (MATLAB's smooth)
POWER_LAW_FEATURES = 3  # the decay exponent, the fitted range's first and last value


@functools.cache
def high_frequency_bins(height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(coefficient indices beyond HIGH_FROM of the largest radius, their bin, each bin's centre radius / the
    largest radius) of a (height, width) shifted spectrum."""
    rows, columns = np.indices((height, width))
    radius = np.hypot(rows - height // 2, columns - width // 2).ravel()
    largest = float(np.hypot(height // 2, width // 2))
    kept = np.flatnonzero(radius > HIGH_FROM * largest)
    low, high = radius[kept].min(), radius[kept].max()
    bins = max(2, round((high - low) / BIN_WIDTH))
    edges = np.linspace(low, high, bins + 1)
    which = np.clip(np.searchsorted(edges, radius[kept], side="right") - 1, 0, bins - 1)
    return kept, which, (edges[:-1] + edges[1:]) / 2 / largest


def smooth(values: np.ndarray, span: int = SMOOTH) -> np.ndarray:
    """Moving average along the last axis over `span` points, the span shrinking to fit at either end."""
    half = span // 2
    smoothed = np.empty_like(values)
    for index in range(values.shape[-1]):
        reach = min(half, index, values.shape[-1] - 1 - index)
        smoothed[..., index] = values[..., index - reach : index + reach + 1].mean(axis=-1)
    return smoothed


def power_law_exponent(x: np.ndarray, y: np.ndarray) -> float:
    """The c minimising || y - y[0] (x / x[0])^c ||_2 (their fit: a power law through the range's first value)."""
    ratio = x / x[0]
    return float(optimize.minimize_scalar(lambda c: np.sum((y - y[0] * ratio**c) ** 2), bounds=(-50, 10)).x)


def power_law_features(framed: np.ndarray) -> np.ndarray:
    """float32 (N, 3): each framed uint8 image's (decay exponent, first and last smoothed magnitude of the
    fitted range), the `dzanic` baseline's input."""
    images = gray(np.asarray(framed))
    count, height, width = images.shape
    kept, which, centres = high_frequency_bins(height, width)
    magnitude = np.abs(np.fft.fftshift(np.fft.fft2(images), axes=(1, 2))).reshape(count, -1)[:, kept]
    sums = np.stack([np.bincount(which, weights=row, minlength=len(centres)) for row in magnitude])
    members = np.bincount(which, minlength=len(centres))
    binned = sums[:, members > 0] / members[members > 0]  # an empty bin is left out, not made up
    centres = centres[members > 0]
    fitted_range = centres > FIT_FROM
    x, ys = centres[fitted_range], smooth(binned)[:, fitted_range]
    return np.array([(power_law_exponent(x, y), y[0], y[-1]) for y in ys], np.float32)
