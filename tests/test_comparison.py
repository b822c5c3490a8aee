"""gandct.comparison on constructed cases whose answers are known, and against plain scikit-learn loops."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics

from gandct import comparison
from gandct.comparison import (
    BootstrapInterval,
    choose_threshold,
    describe,
    detection_metrics,
    paired_bootstrap,
    paired_bootstrap_sets,
    photo_indices,
    resample_counts,
    summarise_seeds,
    verdict,
)


def noisy_scores(labels: np.ndarray, seed: int, separation: float = 0.3) -> np.ndarray:
    """p_fake of a fair but imperfect detector, rounded to 2 decimals so that many scores tie."""
    rng = np.random.default_rng(seed)
    return np.clip(0.35 + separation * labels + rng.normal(0, 0.2, len(labels)), 0, 1).round(2)


@pytest.fixture
def labels() -> np.ndarray:
    return np.repeat([0, 1], 450)


def test_detection_metrics_on_a_known_case():
    labels = np.array([0, 0, 1, 1])
    p_fake = np.array([0.1, 0.6, 0.4, 0.9])
    figures = detection_metrics(labels, p_fake)
    assert (figures["accuracy"], figures["balanced_accuracy"], figures["roc_auc"]) == (0.5, 0.5, 0.75)
    assert (figures["false_positives"], figures["false_negatives"], figures["images"]) == (1, 1, 4)
    at_065 = detection_metrics(labels, p_fake, threshold=0.65)
    assert (at_065["threshold"], at_065["accuracy"], at_065["true_negatives"], at_065["true_positives"]) == (
        0.65,
        0.75,
        2,
        1,
    )


def test_detection_metrics_on_a_one_class_test_set():
    figures = detection_metrics(np.ones(4, int), np.array([0.9, 0.8, 0.3, 0.7]))
    assert figures["accuracy"] == figures["balanced_accuracy"] == 0.75
    assert figures["roc_auc"] is None and figures["average_precision"] is None
    assert (figures["true_positives"], figures["false_negatives"], figures["true_negatives"]) == (3, 1, 0)


@pytest.mark.parametrize(
    ("labels", "p_fake", "message"),
    [
        ([0, 2], [0.1, 0.2], "labels must be 0"),
        ([0, 1], [0.1, 0.2, 0.3], "p_fake has shape"),
        ([0, 1], [0.1, np.nan], "non-finite"),
        ([], [], "non-empty"),
    ],
)
def test_bad_input_is_one_clear_error(labels, p_fake, message):
    with pytest.raises(ValueError, match=message):
        detection_metrics(np.array(labels, dtype=int), np.array(p_fake))


def test_the_threshold_chosen_on_a_separable_set_separates_it():
    labels = np.array([0, 0, 0, 1, 1, 1])
    p_fake = np.array([0.6, 0.7, 0.62, 0.8, 0.95, 0.81])  # every score above 0.5: accuracy 0.5 at 0.5
    threshold = choose_threshold(labels, p_fake)
    assert threshold == pytest.approx(0.75)  # halfway between the highest real and the lowest fake
    assert detection_metrics(labels, p_fake, threshold)["balanced_accuracy"] == 1.0
    assert detection_metrics(labels, p_fake)["balanced_accuracy"] == 0.5


def test_the_chosen_threshold_is_as_good_as_any(labels):
    p_fake = noisy_scores(labels, seed=3)
    best = detection_metrics(labels, p_fake, choose_threshold(labels, p_fake))["balanced_accuracy"]
    every_cut = [*np.unique(p_fake), 1.01]
    assert best == max(detection_metrics(labels, p_fake, t)["balanced_accuracy"] for t in every_cut)
    assert best > detection_metrics(labels, p_fake)["balanced_accuracy"]


def test_tied_scores_are_never_split_and_equal_cuts_go_to_the_one_nearest_half():
    labels = np.array([0, 0, 1, 1])
    p_fake = np.array([0.1, 0.6, 0.6, 0.9])
    # the cuts at 0.35 and 0.75 both give balanced accuracy 0.75; 0.35 lies nearer 0.5
    assert choose_threshold(labels, p_fake) == pytest.approx(0.35)
    order = np.array([3, 1, 0, 2])
    assert choose_threshold(labels[order], p_fake[order]) == choose_threshold(labels, p_fake)


def test_an_anti_ranked_set_gets_a_cut_that_calls_one_class():
    labels = np.array([0, 0, 1, 1])
    threshold = choose_threshold(labels, np.array([0.9, 0.8, 0.2, 0.1]))
    assert detection_metrics(labels, np.array([0.9, 0.8, 0.2, 0.1]), threshold)["balanced_accuracy"] == 0.5


def test_a_threshold_needs_both_classes():
    with pytest.raises(ValueError, match="one class"):
        choose_threshold(np.zeros(3, int), np.array([0.1, 0.2, 0.3]))


def test_seed_summary_on_known_values():
    summary = summarise_seeds(
        {
            0: {"accuracy": 0.9, "roc_auc": 0.95},
            1: {"accuracy": 0.8, "roc_auc": 1.0},
            2: {"accuracy": 1.0, "roc_auc": 0.9},
        }
    )
    assert summary["accuracy"] == {"mean": 0.9, "std": 0.1, "seeds": {"0": 0.9, "1": 0.8, "2": 1.0}}
    assert summary["roc_auc"]["std"] == 0.05  # ddof=1; ddof=0 would give 0.040825
    assert summarise_seeds({7: {"accuracy": 0.5}})["accuracy"] == {"mean": 0.5, "std": None, "seeds": {"7": 0.5}}
    undefined = summarise_seeds({0: {"roc_auc": None}, 1: {"roc_auc": 0.9}})["roc_auc"]
    assert (undefined["mean"], undefined["std"]) == (None, None)
    with pytest.raises(ValueError, match="seed 1 has metrics"):
        summarise_seeds({0: {"accuracy": 0.5}, 1: {"roc_auc": 0.5}})


@pytest.mark.parametrize("metric", ["accuracy", "roc_auc"])
def test_identical_models_give_an_interval_at_zero(labels, metric):
    p_fake = noisy_scores(labels, seed=1)
    interval = paired_bootstrap(labels, p_fake, p_fake.copy(), metric, seed=0)
    assert (interval.difference, interval.low, interval.high) == (0.0, 0.0, 0.0)
    assert verdict(interval) == "no clear difference"


@pytest.mark.parametrize("metric", ["accuracy", "roc_auc"])
def test_two_equally_good_models_give_a_narrow_interval_around_zero(labels, metric):
    interval = paired_bootstrap(labels, noisy_scores(labels, seed=1), noisy_scores(labels, seed=2), metric, seed=0)
    assert interval.low < 0 < interval.high
    assert interval.high - interval.low < 0.1
    assert verdict(interval) == "no clear difference"


@pytest.mark.parametrize("metric", ["accuracy", "roc_auc"])
def test_right_on_every_image_against_right_on_half_is_far_from_zero(labels, metric):
    always_right = np.where(labels == 1, 0.9, 0.1)
    always_wrong = np.where(labels == 1, 0.1, 0.9)
    half_right = np.where(np.arange(len(labels)) % 2, always_right, always_wrong)  # each class: every other image
    better = paired_bootstrap(labels, always_right, half_right, metric, seed=0)
    assert better.difference == pytest.approx(0.5)
    assert 0.4 < better.low < 0.5 < better.high < 0.6
    assert verdict(better) == "better"
    worse = paired_bootstrap(labels, half_right, always_right, metric, seed=0)
    assert -0.6 < worse.low < -0.5 < worse.high < -0.4
    assert verdict(worse) == "worse"


@pytest.mark.parametrize("metric", ["accuracy", "roc_auc"])
@pytest.mark.parametrize("block_cells", [comparison.BLOCK_CELLS, 1000])  # one block of resamples, or 34
def test_the_interval_is_the_plain_loop_over_the_same_resamples(labels, metric, block_cells, monkeypatch):
    """Rank-based AUC on resample counts = scikit-learn on the drawn images, ties included."""
    monkeypatch.setattr(comparison, "BLOCK_CELLS", block_cells)
    labels = labels[::6]  # 150 images keep the loop short
    a, b = noisy_scores(labels, seed=1), noisy_scores(labels, seed=2, separation=0.2)
    score = {
        "accuracy": lambda y, p, t: metrics.accuracy_score(y, p >= t),
        "roc_auc": lambda y, p, t: metrics.roc_auc_score(y, p),
    }[metric]
    differences = []
    blocks = list(resample_counts(labels, 200, seed=5))
    assert len(blocks) == -(-200 // (block_cells // len(labels)))
    for counts in np.concatenate(blocks):
        drawn = np.repeat(np.arange(len(labels)), counts)
        differences.append(score(labels[drawn], a[drawn], 0.45) - score(labels[drawn], b[drawn], 0.55))
    interval = paired_bootstrap(labels, a, b, metric, seed=5, resamples=200, thresholds=(0.45, 0.55))
    assert interval.difference == pytest.approx(score(labels, a, 0.45) - score(labels, b, 0.55), abs=1e-12)
    assert (interval.low, interval.high) == pytest.approx(tuple(np.quantile(differences, [0.025, 0.975])), abs=1e-12)


def test_the_same_seed_gives_the_same_interval_and_another_seed_another(labels):
    a, b = noisy_scores(labels, seed=1), noisy_scores(labels, seed=2, separation=0.25)
    first = paired_bootstrap(labels, a, b, "roc_auc", seed=11)
    assert paired_bootstrap(labels, a, b, "roc_auc", seed=11) == first
    other = paired_bootstrap(labels, a, b, "roc_auc", seed=12)
    assert other.difference == first.difference and (other.low, other.high) != (first.low, first.high)


def test_one_class_resamples_are_redrawn_to_a_fixed_count():
    labels = np.array([0, 0, 0, 1])  # a resample misses the one fake about a third of the time
    counts = np.concatenate(list(resample_counts(labels, 500, seed=0)))
    assert counts.shape == (500, 4) and (counts.sum(axis=1) == 4).all()
    assert ((counts[:, 3] > 0) & (counts[:, :3].sum(axis=1) > 0)).all()
    np.testing.assert_array_equal(counts, np.concatenate(list(resample_counts(labels, 500, seed=0))))


def test_a_one_class_test_set_has_an_accuracy_interval_but_no_auc_one():
    labels = np.ones(40, int)
    a, b = np.full(40, 0.9), np.where(np.arange(40) < 20, 0.9, 0.1)
    assert paired_bootstrap(labels, a, b, "roc_auc", seed=0) is None
    assert describe(None) == "not defined (the test set has one class)"
    accuracy = paired_bootstrap(labels, a, b, "accuracy", seed=0, resamples=200)
    assert accuracy.difference == 0.5 and verdict(accuracy) == "better"


def test_unknown_metric_is_one_clear_error(labels):
    with pytest.raises(ValueError, match="metric must be one of accuracy, roc_auc, got 'ap'"):
        paired_bootstrap(labels, labels * 1.0, labels * 1.0, "ap", seed=0)


@pytest.mark.parametrize(
    ("difference", "low", "high", "expected"),
    [
        (0.012, 0.004, 0.020, "better (+0.012, 95% CI +0.004 to +0.020)"),
        (-0.012, -0.020, -0.004, "worse (-0.012, 95% CI -0.020 to -0.004)"),
        (0.012, 0.0, 0.020, "no clear difference (+0.012, 95% CI +0.000 to +0.020)"),
        (0.01, -0.00004, 0.020, "no clear difference (+0.010, 95% CI +0.000 to +0.020)"),
    ],
)
def test_verdict_sentences(difference, low, high, expected):
    assert describe(BootstrapInterval("roc_auc", difference, low, high, 0.95, 2000)) == expected


def seed_runs(labels: np.ndarray, separations: list[float], noise_seed: int) -> np.ndarray:
    """(seeds, images) p_fake of training runs that differ in how well they separate the classes."""
    return np.stack([noisy_scores(labels, seed=noise_seed + i, separation=s) for i, s in enumerate(separations)])


@pytest.mark.parametrize("metric", ["accuracy", "roc_auc"])
def test_seeds_that_agree_give_exactly_the_image_only_interval(labels, metric):
    a, b = noisy_scores(labels, seed=1), noisy_scores(labels, seed=2, separation=0.25)
    image_only = paired_bootstrap(labels, a, b, metric, seed=4, resamples=500, thresholds=(0.5, 0.55))
    same_seeds = paired_bootstrap(
        labels, np.tile(a, (8, 1)), np.tile(b, (5, 1)), metric, seed=4, resamples=500, thresholds=(0.5, [0.55] * 5)
    )
    assert same_seeds.seeds == (8, 5) and image_only.seeds == (1, 1)
    got, expected = (
        (same_seeds.difference, same_seeds.low, same_seeds.high),
        (
            image_only.difference,
            image_only.low,
            image_only.high,
        ),
    )
    assert got == pytest.approx(expected, abs=1e-12)


def test_the_interval_widens_to_the_spread_between_seeds(labels):
    """Eight runs per detector whose AUCs spread widely: the seeds' spread, not the images', sets the width."""
    a = seed_runs(labels, [0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6], noise_seed=10)
    b = seed_runs(labels, [0.1, 0.12, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5], noise_seed=30)
    interval = paired_bootstrap(labels, a, b, "roc_auc", seed=0, resamples=2000)
    image_only = paired_bootstrap(labels, a.mean(axis=0), b.mean(axis=0), "roc_auc", seed=0, resamples=2000)
    per_seed = [[metrics.roc_auc_score(labels, run) for run in runs] for runs in (a, b)]
    assert interval.difference == pytest.approx(np.mean(per_seed[0]) - np.mean(per_seed[1]), abs=1e-12)
    # the standard error of a difference of two means of 8 runs each, from the runs' own spread
    seed_error = np.sqrt(sum(np.var(values, ddof=1) / len(values) for values in per_seed))
    width = interval.high - interval.low
    assert 0.7 * 2 * 1.96 * seed_error < width < 1.3 * 2 * 1.96 * seed_error
    assert width > 4 * (image_only.high - image_only.low)
    assert interval.low < 0 < interval.high and verdict(interval) == "no clear difference"


def test_resampled_seeds_are_the_plain_loop_over_seeds_and_images(labels):
    labels = labels[::6]
    a, b = seed_runs(labels, [0.1, 0.3, 0.5], noise_seed=1), seed_runs(labels, [0.2, 0.4], noise_seed=7)
    interval = paired_bootstrap(labels, a, b, "roc_auc", seed=3, resamples=100)
    draws = np.random.default_rng([3, 1])
    weights_a, weights_b = comparison.seed_weights(3, 100, draws), comparison.seed_weights(2, 100, draws)
    differences = []
    for row, counts in enumerate(np.concatenate(list(resample_counts(labels, 100, seed=3)))):
        drawn = np.repeat(np.arange(len(labels)), counts)
        auc_a = [metrics.roc_auc_score(labels[drawn], run[drawn]) for run in a]
        auc_b = [metrics.roc_auc_score(labels[drawn], run[drawn]) for run in b]
        differences.append(weights_a[row] @ auc_a - weights_b[row] @ auc_b)
    assert (interval.low, interval.high) == pytest.approx(tuple(np.quantile(differences, [0.025, 0.975])), abs=1e-12)
    assert (weights_a.sum(axis=1) == 1).all() and set(np.unique(weights_a * 3)) <= {0, 1, 2, 3}


def test_each_seed_is_scored_at_its_own_threshold():
    labels = np.array([0, 0, 1, 1])
    runs = np.array([[0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8]])
    one = paired_bootstrap(labels, runs, runs[:1], "accuracy", seed=0, resamples=50, thresholds=([0.25, 0.65], 0.5))
    assert one.difference == pytest.approx(1.0 - 0.5)  # both seeds perfect at their cut; b calls all real


def test_the_bias_corrected_interval_holds_its_estimate_where_the_percentile_interval_does_not():
    # resamples that lean by a known bias: centred 0.2 below an estimate of -0.37, as a blurred mean map's
    # rank correlation leans towards zero
    spread = np.random.default_rng(0).normal(0.0, 0.05, 2000)
    estimate, resampled = -0.37, -0.37 + 0.2 + spread
    plain = np.percentile(resampled, [2.5, 97.5])
    assert not plain[0] <= estimate <= plain[1]
    low, high = comparison.bias_corrected_interval(estimate, resampled)
    assert low <= estimate <= high
    # the shift is the bias: the interval is the resamples' spread around the estimate
    np.testing.assert_allclose([low, high], estimate + np.percentile(spread, [2.5, 97.5]) - spread.mean())
    # without a lean it is the percentile interval
    unbiased = estimate + spread - spread.mean()
    np.testing.assert_allclose(
        comparison.bias_corrected_interval(estimate, unbiased), np.percentile(unbiased, [2.5, 97.5])
    )


def photo_test_set(photos: int = 4, per_photo: int = 10, loose: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Labels and photo indices: per photo `per_photo` reals and as many twins, then `loose` fakes of no photo."""
    labels = np.r_[np.tile(np.r_[np.zeros(per_photo), np.ones(per_photo)], photos), np.ones(loose)].astype(np.int64)
    photo = np.r_[np.repeat(np.arange(photos), 2 * per_photo), np.full(loose, -1)]
    return labels, photo


def test_a_photo_resample_draws_whole_photos_with_their_twins_and_loose_fakes_alone():
    labels, photo = photo_test_set()
    counts = np.concatenate(list(resample_counts(labels, 300, seed=2, photos=photo)))
    real_times = np.stack([counts[:, (photo == p) & (labels == 0)].sum(axis=1) for p in range(4)], 1) / 10
    twin_times = np.stack([counts[:, (photo == p) & (labels == 1)].sum(axis=1) for p in range(4)], 1) / 10
    np.testing.assert_array_equal(real_times, twin_times)  # a photo's twins come with it, as often
    assert (real_times == np.round(real_times)).all() and (real_times.sum(axis=1) == 4).all()
    assert (real_times == 0).any()  # some photos are left out of some resamples
    assert (counts[:, photo < 0].sum(axis=1) == 20).all()
    np.testing.assert_array_equal(counts, np.concatenate(list(resample_counts(labels, 300, seed=2, photos=photo))))


def test_the_photo_level_widens_the_interval_when_photos_differ_and_is_kept_beside_it():
    labels, photo = photo_test_set(photos=6, per_photo=40, loose=0)
    rng = np.random.default_rng(0)
    # b is a's scores with a photo-level shift of its reals: which photos are drawn moves b's AUC a lot
    a = rng.random(len(labels)) * 0.5 + 0.5 * labels
    b = a - 0.4 * (labels == 0) * rng.normal(size=6)[np.clip(photo, 0, None)]
    interval = paired_bootstrap_sets([(labels, a, b)], "roc_auc", seed=1, resamples=400, photos=[photo])
    plain = paired_bootstrap_sets([(labels, a, b)], "roc_auc", seed=1, resamples=400)
    assert interval.images_only == (plain.low, plain.high)
    assert interval.high - interval.low > 2 * (plain.high - plain.low)
    assert interval.difference == plain.difference


def test_images_of_no_photo_resample_as_images_one_by_one(labels):
    a, b = noisy_scores(labels, seed=1), noisy_scores(labels, seed=2, separation=0.25)
    loose = np.full(len(labels), -1)
    with_photos = paired_bootstrap_sets([(labels, a, b)], "roc_auc", seed=3, resamples=200, photos=[loose])
    plain = paired_bootstrap_sets([(labels, a, b)], "roc_auc", seed=3, resamples=200)
    assert (with_photos.low, with_photos.high) == with_photos.images_only == (plain.low, plain.high)


def test_an_image_belongs_to_a_photo_when_its_group_holds_a_real_and_more_than_one_image():
    rows = [
        {"group": "flower", "label": "0"},
        {"group": "flower", "label": "0"},
        {"group": "flower", "label": "1"},  # a twin of the flower photo
        {"group": "progan-test", "label": "1"},  # fakes from noise share a group but hold no real
        {"group": "progan-test", "label": "1"},
        {"group": "china", "label": "0"},
        {"group": "china", "label": "1"},
        {"group": "kaggle/real/0001", "label": "0"},  # a file that is its own group
    ]
    np.testing.assert_array_equal(photo_indices(rows), [1, 1, 1, -1, -1, 0, 0, -1])
