"""Where a map's mass sits on the DCT grid, and how it lines up with where reals and fakes differ.

Pure numpy/scipy, so the numbers can be computed and tested without importing TensorFlow. The maps are
DCT-shaped: (H, W), or a stack (N, H, W), lowest frequency at [0, 0] (top-left), highest at [H-1, W-1].

Frequency bands are diagonal: coefficient (i, j) has the normalised diagonal frequency
t = (i / (H-1) + j / (W-1)) / 2, 0 at DC and 1 at the bottom-right corner, and band b of k holds
b / k <= t < (b + 1) / k (t = 1 goes to the last band). Diagonal bands follow the i + j order in which the
DCT map's energy decays and match the bottom-right corner where up-sampling traces sit. Bands hold unequal
numbers of coefficients (fewest at both ends), so a profile is read against `band_profile(uniform_map(...))`.

Typical inputs: a detector's mean saliency map, and the mean log-spectra of a test set's reals and fakes
(their signed difference `fake - real` for the peaks, its absolute value for profiles and correlations).
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage
import scipy.stats

from gandct.comparison import bias_corrected_interval
from gandct.errors import GandctError

# MAD times this estimates the standard deviation of normally distributed values.
MAD_TO_STD = 1.4826


def diagonal_frequency(shape: tuple[int, int]) -> np.ndarray:
    """Normalised diagonal frequency t in [0, 1] of every coefficient of an (H, W) DCT map."""
    height, width = shape
    if height < 2 or width < 2:
        raise GandctError(f"a DCT map needs at least 2x2 coefficients, got {height}x{width}")
    rows = np.arange(height)[:, None] / (height - 1)
    columns = np.arange(width)[None, :] / (width - 1)
    return (rows + columns) / 2


def diagonal_bands(shape: tuple[int, int], bands: int) -> np.ndarray:
    """Band index (0 = lowest frequencies) of every coefficient of an (H, W) map, `bands` equal bins of t."""
    if bands < 1:
        raise GandctError(f"bands must be at least 1, got {bands}")
    return np.minimum((diagonal_frequency(shape) * bands).astype(int), bands - 1)


def band_centres(bands: int) -> np.ndarray:
    """Normalised diagonal frequency at the middle of each band, for plotting."""
    return (np.arange(bands) + 0.5) / bands


def uniform_map(shape: tuple[int, int]) -> np.ndarray:
    """A map with the same mass on every coefficient: what a detector looking everywhere alike gives."""
    return np.ones(shape)


def as_mass(maps: np.ndarray, name: str) -> np.ndarray:
    """Check that `maps` is an (H, W) or (N, H, W) finite non-negative mass; return it as a float64 stack."""
    values = np.asarray(maps, np.float64)
    if values.ndim not in (2, 3):
        raise GandctError(f"{name} must be an (H, W) map or an (N, H, W) stack, got shape {values.shape}")
    if not np.isfinite(values).all() or (values < 0).any():
        raise GandctError(f"{name} must be finite and non-negative (take |difference| for a spectral difference)")
    stack = values[None] if values.ndim == 2 else values
    totals = stack.sum(axis=(1, 2))
    if not (totals > 0).any():
        raise GandctError(f"{name} has no mass: every map is zero")
    return stack[totals > 0]


def unit_mass(maps: np.ndarray) -> np.ndarray:
    """Each map of an (N, H, W) stack scaled to mass 1 (an all-zero map stays zero): float64."""
    stack = np.asarray(maps, np.float64)
    totals = stack.sum(axis=(1, 2), keepdims=True)
    return np.divide(stack, totals, out=np.zeros_like(stack), where=totals > 0)


def quadrants(maps: np.ndarray) -> dict[str, np.ndarray]:
    """The four quadrants of an (H, W) map or of every map of an (N, H, W) stack, as views.

    low: top-left; high_horizontal: top-right; high_vertical: bottom-left; high: bottom-right, high in
    both directions, where up-sampling traces sit.
    """
    half_height, half_width = maps.shape[-2] // 2, maps.shape[-1] // 2
    return {
        "low": maps[..., :half_height, :half_width],
        "high_horizontal": maps[..., :half_height, half_width:],
        "high_vertical": maps[..., half_height:, :half_width],
        "high": maps[..., half_height:, half_width:],
    }


def band_profile(maps: np.ndarray, bands: int = 16) -> np.ndarray:
    """Share of a map's mass in each diagonal band, summing to 1; for a stack, the mean over its maps.

    Maps with no mass are left out of a stack's mean. The profile of |mean fake - mean real| log-spectrum
    and that of a mean saliency map are both shares, so they plot on the same axes.
    """
    stack = as_mass(maps, "maps")
    index = diagonal_bands(stack.shape[1:], bands).ravel()
    per_map = np.stack([np.bincount(index, weights=one.ravel(), minlength=bands) for one in stack])
    return (per_map / per_map.sum(axis=1, keepdims=True)).mean(axis=0)


def rank_correlation(saliency_map: np.ndarray, difference_map: np.ndarray) -> float | None:
    """Spearman rank correlation, over the coefficients, of a mean saliency map and |mean fake - mean real|.

    1: the detector's saliency ranks the coefficients exactly as the class difference does; 0: unrelated;
    negative: it looks where the classes differ least. None when either map is constant (no ranking).
    """
    saliency, difference = np.asarray(saliency_map, np.float64), np.asarray(difference_map, np.float64)
    if saliency.ndim != 2 or saliency.shape != difference.shape:
        raise GandctError(
            f"saliency and difference maps must be (H, W) of one shape, got {saliency.shape} and {difference.shape}"
        )
    if np.ptp(saliency) == 0 or np.ptp(difference) == 0:
        return None
    # scipy would return NaN, with a warning, for a constant map: caught above.
    return float(scipy.stats.spearmanr(saliency.ravel(), difference.ravel()).statistic)


def upsampling_peaks(
    difference_map: np.ndarray,
    window: int = 3,
    threshold_mads: float = 5.0,
    low_cutoff: float = 0.05,
    troughs: bool = False,
) -> np.ndarray:
    """Positions (row, column) of the isolated peaks of the signed `mean fake - mean real` log-spectrum.

    A peak is a coefficient that is the largest in its `window` x `window` neighbourhood and stands out from
    its surroundings: its excess over the local median (in a window twice as wide plus one) is above the
    median excess plus `threshold_mads` times its MAD (scaled to a standard deviation). Measuring the excess
    over the local median keeps a broad, smooth difference (fakes brighter everywhere at high frequency)
    from counting as peaks. Coefficients with diagonal frequency below `low_cutoff` (DC and its neighbours,
    where the spectra differ most in level) are neither peaks nor part of the threshold's statistics.
    `troughs` adds the peaks of `-difference_map`: a box-filtered image replicated 2x (nearest-neighbour
    up-sampling with nothing after it) leaves zeros, so deep troughs, on the lines at DCT index H/2 and W/2, not peaks.
    Sorted by row, then column; an (0, 2) array when there are none.
    """
    difference = np.asarray(difference_map, np.float64)
    if difference.ndim != 2 or not np.isfinite(difference).all():
        raise GandctError(f"difference map must be a finite (H, W) array, got shape {difference.shape}")
    if window < 3 or window % 2 == 0:
        raise GandctError(f"peak window must be an odd size of at least 3, got {window}")
    considered = diagonal_frequency(difference.shape) >= low_cutoff
    found = np.zeros(difference.shape, bool)
    for signed in (difference, -difference) if troughs else (difference,):
        excess = signed - scipy.ndimage.median_filter(signed, size=2 * window + 1, mode="nearest")
        values = excess[considered]
        median = np.median(values)
        threshold = median + threshold_mads * MAD_TO_STD * np.median(np.abs(values - median))
        local_max = signed == scipy.ndimage.maximum_filter(signed, size=window, mode="nearest")
        found |= local_max & considered & (excess > threshold)
    return np.argwhere(found)


def peak_share(maps: np.ndarray, peaks: np.ndarray) -> dict[str, int | float | None]:
    """Share of saliency mass on the peak coefficients, a uniform map's share of them, and their ratio.

    `share` is the mean over the stack's maps (maps with no mass left out); `uniform` = peaks / coefficients;
    `ratio` > 1: the detector looks at the peaks more than chance. With no peaks the shares are 0 and the
    ratio is None (undefined).
    """
    stack = as_mass(maps, "maps")
    positions = np.asarray(peaks, int).reshape(-1, 2)
    height, width = stack.shape[1:]
    if len(positions) and (positions.min() < 0 or (positions >= (height, width)).any()):
        raise GandctError(f"peak positions must lie inside the {height}x{width} map")
    if not len(positions):
        return {"peaks": 0, "share": 0.0, "uniform": 0.0, "ratio": None}
    unique = np.unique(positions, axis=0)
    on_peaks = stack[:, unique[:, 0], unique[:, 1]].sum(axis=1) / stack.sum(axis=(1, 2))
    share, uniform = float(on_peaks.mean()), len(unique) / (height * width)
    return {"peaks": len(unique), "share": share, "uniform": uniform, "ratio": share / uniform}


def mean_frequency(maps: np.ndarray) -> float:
    """Mass-weighted mean diagonal frequency of a map (a stack's maps each normalised, then averaged): 0 at
    DC, 1 at the bottom-right corner; a uniform map gives 0.5."""
    stack = as_mass(maps, "maps")
    t = diagonal_frequency(stack.shape[1:])
    return float(((stack * t).sum(axis=(1, 2)) / stack.sum(axis=(1, 2))).mean())


def class_difference(spectra: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Signed mean fake minus mean real of (N, H, W) log-spectra with labels 0 (real) / 1 (fake)."""
    labels = np.asarray(labels)
    if not ((labels == 0).any() and (labels == 1).any()):
        raise GandctError("a class difference needs reals and fakes")
    return spectra[labels == 1].mean(axis=0) - spectra[labels == 0].mean(axis=0)


def largest_differences(difference_map: np.ndarray, count: int = 5) -> list[dict[str, float | int]]:
    """The `count` coefficients where |mean fake - mean real| is largest: row, column, diagonal frequency t
    and the signed difference (positive: more energy in the fakes), largest first."""
    difference = np.asarray(difference_map, np.float64)
    t = diagonal_frequency(difference.shape)
    order = np.argsort(-np.abs(difference), axis=None, kind="stable")[:count]
    rows, columns = np.unravel_index(order, difference.shape)
    return [
        {
            "row": int(r),
            "column": int(c),
            "t": round(float(t[r, c]), 3),
            "difference": round(float(difference[r, c]), 4),
        }
        for r, c in zip(rows, columns, strict=True)
    ]


def where_it_looks(
    saliency: np.ndarray,
    spectra: np.ndarray,
    labels: np.ndarray,
    bands: int = 16,
    resamples: int = 1000,
    seed: int = 0,
) -> dict:
    """Every measure of where a detector looks on one test set, against where its reals and fakes differ.

    `saliency`: the detector's (N, H, W) maps of the set's images; `spectra`: their (N, H, W) log-spectra
    (channels averaged); `labels`: 0 real, 1 fake. The mean saliency map is the mean of the per-image maps,
    each normalised to mass 1. Returns the band profiles (saliency, |mean fake - mean real|, a uniform map),
    the mean diagonal frequencies, the Spearman correlation of the mean saliency map with |difference| and
    its 95% bootstrap interval (images resampled within each class, `resamples` times, seeded; bias-corrected,
    so it holds the estimate), and the saliency share on the difference's isolated peaks and troughs against a
    uniform map's.
    """
    stack = np.asarray(saliency, np.float64)
    spectra, labels = np.asarray(spectra, np.float64), np.asarray(labels)
    if not (stack.shape == spectra.shape and stack.ndim == 3 and len(labels) == len(stack)):
        raise GandctError(
            f"saliency {stack.shape}, spectra {spectra.shape} and {len(labels)} labels must describe the same images"
        )
    normalised = unit_mass(stack)
    difference = class_difference(spectra, labels)
    mean_map, gap = normalised.mean(axis=0), np.abs(difference)
    rng = np.random.default_rng(seed)
    classes = [np.flatnonzero(labels == label) for label in (0, 1)]
    # A resample as counts per image: weighted means are one matrix product, not a copy of the drawn maps.
    per_class = [
        (normalised[members].reshape(len(members), -1), spectra[members].reshape(len(members), -1))
        for members in classes
    ]
    resampled = []
    for _ in range(resamples):
        counts = [np.bincount(rng.integers(0, len(maps), len(maps)), minlength=len(maps)) for maps, _ in per_class]
        drawn_map = sum(count @ maps for count, (maps, _) in zip(counts, per_class, strict=True))
        real, fake = (count @ logs / len(logs) for count, (_, logs) in zip(counts, per_class, strict=True))
        resampled.append(rank_correlation(drawn_map.reshape(gap.shape), np.abs(fake - real).reshape(gap.shape)))
    found = [value for value in resampled if value is not None]
    rho = rank_correlation(mean_map, gap)
    interval = np.round(bias_corrected_interval(rho, found), 4).tolist() if found and rho is not None else None
    peaks = upsampling_peaks(difference, troughs=True)
    flat = uniform_map(difference.shape)
    return {
        "images": {"real": len(classes[0]), "fake": len(classes[1])},
        "band_centres": band_centres(bands).round(4).tolist(),
        "saliency_profile": band_profile(mean_map, bands).round(4).tolist(),
        "difference_profile": band_profile(gap, bands).round(4).tolist(),
        "uniform_profile": band_profile(flat, bands).round(4).tolist(),
        "saliency_mean_frequency": round(mean_frequency(mean_map), 4),
        "difference_mean_frequency": round(mean_frequency(gap), 4),
        "uniform_mean_frequency": round(mean_frequency(flat), 4),
        "spearman": None if rho is None else round(rho, 4),
        "spearman_interval": interval,
        "largest_differences": largest_differences(difference),
        # mean signed difference where both frequencies are in their upper half (the bottom-right quadrant)
        "high_quadrant_difference": round(float(quadrants(difference)["high"].mean()), 4),
        "peaks": peak_share(mean_map, peaks),
        "peak_positions": peaks.tolist(),
    }
