"""The figures of the per-generator table (Wang et al. 2020 style): oracle accuracy, the detection rate at a
fixed false-alarm rate, and the bootstrap interval of a metric averaged over several test sets."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics

from gandct.comparison import (
    detection_rate_at_false_alarms,
    oracle_accuracy,
    paired_bootstrap,
    paired_bootstrap_sets,
)


def test_oracle_accuracy_is_the_best_cut_of_these_very_scores():
    labels = np.array([0, 0, 0, 1, 1, 1])
    assert oracle_accuracy(labels, np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])) == 1.0  # separable
    # Every fake below every real: the best cut calls everything one class, 3 of 6 right.
    assert oracle_accuracy(labels, np.array([0.9, 0.8, 0.7, 0.3, 0.2, 0.1])) == 0.5
    # One real scores above two fakes: the best cut (between 0.35 and 0.4) misses that real only, 5 of 6.
    assert oracle_accuracy(labels, np.array([0.1, 0.2, 0.6, 0.4, 0.5, 0.9])) == pytest.approx(5 / 6, abs=1e-6)
    # Tied scores are never split: four images at one score, two of each class, cost two errors whatever the cut.
    tied = np.array([0.1, 0.5, 0.5, 0.5, 0.5, 0.9])
    assert oracle_accuracy(labels, tied) == pytest.approx(4 / 6, abs=1e-6)


def test_oracle_accuracy_is_at_least_any_fixed_threshold_accuracy():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    p_fake = np.clip(0.5 + 0.3 * (labels - 0.5) + rng.normal(0, 0.25, 300), 0, 1)
    best = max(np.mean((p_fake >= cut) == labels) for cut in np.concatenate([p_fake, [2.0]]))
    assert oracle_accuracy(labels, p_fake) == pytest.approx(best, abs=1e-6)


def test_detection_at_five_percent_false_alarms_counts_the_fakes_above_the_allowed_reals():
    reals = np.linspace(0.0, 0.99, 100)  # 100 reals: 5 may be called fake, so the cut is the 6th highest, 0.94
    cut = np.sort(reals)[::-1][5]
    fakes = np.array([0.999, 0.96, 0.945, cut, 0.5])  # above the cut: three; the one at it counts as real
    labels = np.concatenate([np.zeros(100), np.ones(5)])
    p_fake = np.concatenate([reals, fakes])
    assert detection_rate_at_false_alarms(labels, p_fake, 0.05) == pytest.approx(3 / 5)
    # The rate it promises: at most 5% of the reals above the cut.
    assert np.sum(reals > np.sort(reals)[::-1][5]) == 5
    assert detection_rate_at_false_alarms(labels, p_fake, 0.0) == pytest.approx(1 / 5)  # above every real
    # Separable scores detect every fake at any false-alarm rate; one class has no rate.
    separable = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    assert detection_rate_at_false_alarms(np.array([0, 0, 0, 1, 1]), separable, 0.0) == 1.0
    assert detection_rate_at_false_alarms(np.ones(3), np.array([0.1, 0.5, 0.9])) is None


def scores_for(labels: np.ndarray, separation: float, seeds: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(0.5 + separation * (labels - 0.5) + rng.normal(0, 0.2, (seeds, len(labels))), 0, 1)


def test_the_interval_over_several_sets_is_the_one_of_a_single_set_when_given_one():
    labels = np.repeat([0, 1], 40)
    a, b = scores_for(labels, 0.4, 3, 1), scores_for(labels, 0.2, 3, 2)
    one = paired_bootstrap(labels, a, b, "roc_auc", seed=5, resamples=300)
    assert paired_bootstrap_sets([(labels, a, b)], "roc_auc", seed=5, resamples=300) == one


def test_the_interval_over_several_sets_centres_on_the_mean_difference_of_the_sets():
    sets = []
    for k in range(3):
        labels = np.repeat([0, 1], 30 + 10 * k)
        sets.append((labels, scores_for(labels, 0.5, 4, 10 + k), scores_for(labels, 0.1 * k, 4, 20 + k)))
    interval = paired_bootstrap_sets(sets, "roc_auc", seed=0, resamples=400)

    def mean_auc(rows: np.ndarray, labels: np.ndarray) -> float:
        return float(np.mean([metrics.roc_auc_score(labels, row) for row in rows]))

    expected = np.mean([mean_auc(a, labels) - mean_auc(b, labels) for labels, a, b in sets])
    assert interval.difference == pytest.approx(expected, abs=1e-3)
    assert interval.low <= interval.difference <= interval.high
    assert interval.seeds == (4, 4) and interval.resamples == 400
    # Averaging over sets narrows the interval against the widest single set's.
    widths = [paired_bootstrap(*s, "roc_auc", seed=0, resamples=400) for s in sets]
    assert interval.high - interval.low < max(w.high - w.low for w in widths)


def test_the_interval_over_several_sets_rejects_what_it_cannot_compute():
    labels = np.repeat([0, 1], 10)
    a = scores_for(labels, 0.4, 2, 0)
    with pytest.raises(ValueError, match="at least one test set"):
        paired_bootstrap_sets([], "roc_auc", seed=0)
    with pytest.raises(ValueError, match="metric must be one of"):
        paired_bootstrap_sets([(labels, a, a)], "f1", seed=0)
    one_class = np.zeros(20)
    assert paired_bootstrap_sets([(labels, a, a), (one_class, a, a)], "roc_auc", seed=0, resamples=50) is None
