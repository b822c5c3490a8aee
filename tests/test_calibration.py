"""Expected calibration error and reliability bins of p_fake, on cases whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from gandct.calibration import BINS, expected_calibration_error, reliability


def test_a_detector_sure_of_everything_on_a_balanced_set_is_off_by_half_and_one_at_a_time():
    labels = np.array([0, 1] * 50)
    assert expected_calibration_error(labels, np.full(100, 0.999)) == pytest.approx(0.499)
    assert expected_calibration_error(labels, np.full(100, 0.5)) == pytest.approx(0.0)
    # Right and sure every time: calibrated up to the distance of 0 and 1 from the scores.
    assert expected_calibration_error(labels, np.where(labels == 1, 1.0, 0.0)) == 0.0


def test_the_error_weights_each_bin_by_its_images():
    """Two bins: 30 images at p 0.1 of which 6 fake (off by 0.1), 70 at p 0.9 of which 49 fake (off by 0.2)."""
    p_fake = np.array([0.1] * 30 + [0.9] * 70)
    labels = np.array([1] * 6 + [0] * 24 + [1] * 49 + [0] * 21)
    bins = reliability(labels, p_fake)
    assert bins["expected_calibration_error"] == pytest.approx(0.3 * 0.1 + 0.7 * 0.2)
    assert sum(bins["count"]) == 100 and len(bins["count"]) == BINS
    filled = [i for i, n in enumerate(bins["count"]) if n]
    assert filled == [1, 13] and [bins["share_fake"][i] for i in filled] == [0.2, 0.7]
    assert bins["mean_p_fake"][0] is None and bins["share_fake"][0] is None


def test_a_score_of_one_falls_in_the_last_bin():
    bins = reliability(np.array([1, 1]), np.array([1.0, 14.5 / 15]))
    assert bins["count"][-1] == 2
