"""How far a detector's p_fake can be taken at its word: the reliability of its probabilities on a test set, and
their expected calibration error (Guo et al. 2017, Sec. 2, with p_fake's own bins, as a binary detector's
reliability diagram plots it: `report_figures.plot_reliability`)."""

from __future__ import annotations

import numpy as np

BINS = 15  # equal-width bins of p_fake over [0, 1]


def reliability(labels: np.ndarray, p_fake: np.ndarray, bins: int = BINS) -> dict[str, list]:
    """Per equal-width bin of p_fake: its image count, mean p_fake and share of fakes (None where empty)."""
    p_fake, labels = np.asarray(p_fake, np.float64), np.asarray(labels, np.float64)
    # The last bin is closed: p_fake = 1 falls in it.
    index = np.minimum((p_fake * bins).astype(np.int64), bins - 1)
    counts = np.bincount(index, minlength=bins)
    sums = np.bincount(index, weights=p_fake, minlength=bins)
    fakes = np.bincount(index, weights=labels, minlength=bins)
    present = counts > 0
    return {
        "count": counts.tolist(),
        "mean_p_fake": [round(float(s / n), 6) if n else None for s, n in zip(sums, counts, strict=True)],
        "share_fake": [round(float(f / n), 6) if n else None for f, n in zip(fakes, counts, strict=True)],
        "expected_calibration_error": round(
            float(np.sum(np.abs(sums[present] - fakes[present])) / max(len(p_fake), 1)), 6
        ),
    }


def expected_calibration_error(labels: np.ndarray, p_fake: np.ndarray, bins: int = BINS) -> float:
    """Sum over bins of (the bin's share of the images) x |its mean p_fake - its share of fakes|: 0 for a
    calibrated detector, at most 1."""
    return reliability(labels, p_fake, bins)["expected_calibration_error"]
