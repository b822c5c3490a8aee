"""Statistics for comparing detectors: metrics, a validation threshold, seed summaries, a seed-and-image bootstrap.

Labels are 0 = real, 1 = fake; `p_fake` is the probability of 1 and an image is called fake when
`p_fake >= threshold`. Everything here is numpy and scikit-learn, so the stages can import it without
loading a deep-learning framework.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from sklearn import metrics

DIGITS = 6  # the metrics files' rounding
BOOTSTRAP_METRICS = ("accuracy", "roc_auc")
BLOCK_CELLS = 4_000_000  # resample counts held at a time (32 MB of int64), e.g. 4444 resamples of 900 images


def _checked(labels: np.ndarray, scores: np.ndarray, name: str = "p_fake") -> tuple[np.ndarray, np.ndarray]:
    """labels as a 1-D int array of 0/1 and scores as a 1-D float array of the same length, or a ValueError."""
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=np.float64)
    if labels.ndim != 1 or len(labels) == 0:
        raise ValueError(f"labels must be a non-empty 1-D array, got shape {labels.shape}")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError(f"labels must be 0 (real) or 1 (fake), got values {np.unique(labels)[:5].tolist()}")
    if scores.shape != labels.shape:
        raise ValueError(f"{name} has shape {scores.shape}, labels {labels.shape}: one score per image needed")
    if not np.isfinite(scores).all():
        raise ValueError(f"{name} has {int((~np.isfinite(scores)).sum())} non-finite values")
    return labels.astype(np.int64), scores


def detection_metrics(labels: np.ndarray, p_fake: np.ndarray, threshold: float = 0.5) -> dict[str, float | int | None]:
    """Accuracy and balanced accuracy at `threshold`, ROC AUC and AP, confusion counts and the image count.

    Balanced accuracy is the mean recall of the classes present, so on a one-class test set it is that
    class's recall (= accuracy); ROC AUC and AP rank fakes against reals and are None (null in JSON) there.
    """
    labels, p_fake = _checked(labels, p_fake)
    predicted = (p_fake >= threshold).astype(np.int64)
    tn, fp, fn, tp = metrics.confusion_matrix(labels, predicted, labels=[0, 1]).ravel()
    recalls = [hits / total for hits, total in ((tn, tn + fp), (tp, tp + fn)) if total]
    both_classes = bool(tn + fp) and bool(tp + fn)
    return {
        "threshold": float(threshold),
        "accuracy": round(float((tn + tp) / len(labels)), DIGITS),
        "balanced_accuracy": round(float(np.mean(recalls)), DIGITS),
        "roc_auc": round(float(metrics.roc_auc_score(labels, p_fake)), DIGITS) if both_classes else None,
        "average_precision": (
            round(float(metrics.average_precision_score(labels, p_fake)), DIGITS) if both_classes else None
        ),
        "true_negatives": int(tn),
        "false_positives": int(fp),
        "false_negatives": int(fn),
        "true_positives": int(tp),
        "images": len(labels),
    }


def oracle_accuracy(labels: np.ndarray, p_fake: np.ndarray) -> float:
    """Accuracy at the threshold that is best on these very scores (the "oracle" accuracy Ojha et al. 2023
    report beside the fixed-threshold one): how well the scores separate the classes, calibration aside."""
    labels, p_fake = _checked(labels, p_fake)
    order = np.argsort(p_fake, kind="stable")
    ranked, sorted_labels = p_fake[order], labels[order]
    # cut i calls the i lowest scores real; a cut never splits equal scores
    cuts = np.concatenate([[0], np.flatnonzero(ranked[1:] != ranked[:-1]) + 1, [len(labels)]])
    reals_below = np.concatenate([[0], np.cumsum(1 - sorted_labels)])[cuts]
    fakes_above = labels.sum() - np.concatenate([[0], np.cumsum(sorted_labels)])[cuts]
    return round(float((reals_below + fakes_above).max() / len(labels)), DIGITS)


def detection_rate_at_false_alarms(labels: np.ndarray, p_fake: np.ndarray, false_alarms: float = 0.05) -> float | None:
    """The share of fakes called fake at the threshold that calls at most `false_alarms` of the reals fake
    (Ricker et al. 2024's PD@5%): a fake counts when it scores above the (k+1)-th highest real, k the largest
    whole number of reals allowed. None on a one-class set."""
    labels, p_fake = _checked(labels, p_fake)
    reals, fakes = np.sort(p_fake[labels == 0])[::-1], p_fake[labels == 1]
    if not len(reals) or not len(fakes):
        return None
    allowed = int(np.floor(false_alarms * len(reals) + 1e-9))
    cut = reals[allowed] if allowed < len(reals) else -np.inf
    return round(float((fakes > cut).mean()), DIGITS)


def choose_threshold(labels: np.ndarray, p_fake: np.ndarray) -> float:
    """The threshold that maximises balanced accuracy of `p_fake >= threshold` on these (validation) scores.

    Candidates cut between neighbouring distinct scores, at their midpoint (equal scores are never split,
    and a separable set gets the cut halfway between its highest real and lowest fake), plus the two
    cuts that call everything fake (the lowest score) or everything real (just above the highest).
    Balanced accuracy is compared exactly, in integer counts; among equally good cuts the one nearest
    0.5 wins, then the lower one, so the same scores always give the same threshold.
    """
    labels, p_fake = _checked(labels, p_fake)
    positives, negatives = int(labels.sum()), int(len(labels) - labels.sum())
    if not positives or not negatives:
        raise ValueError("choose_threshold needs real and fake images among the labels, got one class only")
    distinct, level = np.unique(p_fake, return_inverse=True)
    fakes_at = np.bincount(level, weights=labels, minlength=len(distinct)).astype(np.int64)
    reals_at = np.bincount(level, minlength=len(distinct)) - fakes_at
    # cut i calls the scores distinct[i:] fake: i = 0 calls everything fake, i = len(distinct) nothing
    true_positives = positives - np.concatenate([[0], np.cumsum(fakes_at)])
    true_negatives = np.concatenate([[0], np.cumsum(reals_at)])
    score = true_positives * negatives + true_negatives * positives  # 2 * balanced accuracy * P * N
    midpoints = (distinct[:-1] + distinct[1:]) / 2
    midpoints = np.where(midpoints > distinct[:-1], midpoints, distinct[1:])  # neighbours one ulp apart
    cuts = np.concatenate([[distinct[0]], midpoints, [np.nextafter(distinct[-1], np.inf)]])
    best = np.flatnonzero(score == score.max())
    return float(cuts[best[np.lexsort((cuts[best], np.abs(cuts[best] - 0.5)))[0]]])


def summarise_seeds(per_seed: dict[int, dict[str, float | None]]) -> dict[str, dict]:
    """{metric: {"mean", "std", "seeds": {seed: value}}} over the seeds' metrics (rounded like the metrics).

    std is the sample standard deviation (ddof=1) and None with a single seed, which measures no spread;
    a metric that is None for any seed (e.g. ROC AUC on a one-class set) has mean and std None. Seed keys
    become strings, as they read back from JSON.
    """
    if not per_seed:
        raise ValueError("summarise_seeds needs the metrics of at least one seed")
    names = list(next(iter(per_seed.values())))
    for seed, figures in per_seed.items():
        if set(figures) != set(names):
            raise ValueError(f"seed {seed} has metrics {sorted(figures)}, the first seed {sorted(names)}")
    summary: dict[str, dict] = {}
    for name in names:
        values = {str(seed): figures[name] for seed, figures in per_seed.items()}
        known = [value for value in values.values() if value is not None]
        defined = len(known) == len(values)
        summary[name] = {
            "mean": round(float(np.mean(known)), DIGITS) if defined else None,
            "std": round(float(np.std(known, ddof=1)), DIGITS) if defined and len(known) > 1 else None,
            "seeds": values,
        }
    return summary


@dataclass(frozen=True)
class BootstrapInterval:
    """metric(a) - metric(b), each the mean over a detector's seeds on the whole test set, and its percentile
    interval over resamples of the seeds and the test images (`paired_bootstrap`); `seeds` = (a's, b's). With
    photographs as a level, (low, high) resample photos too and `images_only` is the interval without them."""

    metric: str
    difference: float
    low: float
    high: float
    level: float
    resamples: int
    seeds: tuple[int, int] = (1, 1)
    images_only: tuple[float, float] | None = None

    @classmethod
    def from_dict(cls, found: dict) -> BootstrapInterval:
        """The interval `to_dict` wrote (e.g. read back from detail.json)."""
        images_only = found.get("images_only")
        return cls(**found | {"seeds": tuple(found["seeds"]), "images_only": images_only and tuple(images_only)})

    def to_dict(self) -> dict[str, float | int | str | list[int] | list[float] | None]:
        return {
            "metric": self.metric,
            "difference": round(self.difference, DIGITS),
            "low": round(self.low, DIGITS),
            "high": round(self.high, DIGITS),
            "level": self.level,
            "resamples": self.resamples,
            "seeds": list(self.seeds),
            "images_only": self.images_only and [round(bound, DIGITS) for bound in self.images_only],
        }


def bias_corrected_interval(estimate: float, resampled: np.ndarray | list[float], level: float = 0.95) -> list[float]:
    """The percentile interval of bootstrap values shifted by their bias (their mean minus `estimate`).

    A statistic whose resamples lean to one side of it (the rank correlation of a mean map, which resampling
    blurs towards zero) puts its own estimate outside the plain percentile interval; the shift removes that lean,
    so the interval contains the estimate whenever the resamples' mean lies inside their own percentiles.
    """
    values = np.asarray(resampled, np.float64)
    bias = values.mean() - estimate
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail]) - bias
    return [float(low), float(high)]


def photo_indices(rows: list[dict[str, str]]) -> np.ndarray:
    """Per image of a test set (rows with its "group" and "label", as ids.csv and the scores files hold them) the
    index of its photograph for `resample_counts`: its group, where that group holds a real image of the set and
    more than one image (a photo's patches, its twins, its third-party fakes); -1 for an image of no photograph (a
    GAN's fake from noise, or an image that is its own group, as each file of a Kaggle set)."""
    sizes = Counter(row["group"] for row in rows)
    photos = sorted({row["group"] for row in rows if str(row["label"]) == "0" and sizes[row["group"]] > 1})
    index = {group: number for number, group in enumerate(photos)}
    return np.array([index.get(row["group"], -1) for row in rows], np.int64)


def resample_counts(
    labels: np.ndarray, resamples: int, seed: int | list[int], photos: np.ndarray | None = None
) -> Iterator[np.ndarray]:
    """Blocks of (rows, images) counts: how often each image is drawn into each bootstrap resample.

    Without `photos`, each resample draws len(labels) images with replacement. With `photos` (per image the index
    of the photograph it comes from, -1 for an image of no photograph, such as a GAN's fake from noise), it is a
    two-level bootstrap: the photographs are drawn with replacement, then within each drawn photograph its images
    of each class (a photo's patches, and its twins: they stay with their photo); images of no photograph are
    drawn with replacement per class. When the test set has both classes, a resample that has only one is redrawn
    from the same generator until it has both, so there are always `resamples` rows. Blocks of about BLOCK_CELLS
    counts bound the memory; their size depends on the number of images only, so the same labels, photos,
    resamples and seed give the same counts.
    """
    images = len(labels)
    rng = np.random.default_rng(seed)
    rows_per_block = max(1, BLOCK_CELLS // images)
    draw = _image_draw if photos is None or photos.max(initial=-1) < 0 else _photo_draw(labels, photos)
    both = labels.min() != labels.max()
    for first in range(0, resamples, rows_per_block):
        counts = draw(rng, min(rows_per_block, resamples - first), images)
        while both and len(one_class := np.flatnonzero((counts @ labels == 0) | (counts @ (1 - labels) == 0))):
            counts[one_class] = draw(rng, len(one_class), images)
        yield counts


def _image_draw(rng: np.random.Generator, rows: int, images: int) -> np.ndarray:
    """(rows, images) counts of `images` draws with replacement per row."""
    drawn = rng.integers(0, images, size=(rows, images))
    flat = np.repeat(np.arange(rows) * images, images) + drawn.ravel()
    return np.bincount(flat, minlength=rows * images).reshape(rows, images)


def _photo_draw(labels: np.ndarray, photos: np.ndarray):  # noqa: ANN202 - a closure of resample_counts
    """The two-level draw of `resample_counts`: photos, then their images per class; loose images per class."""
    ids = np.unique(photos[photos >= 0])
    cells = [
        (index, members)
        for index, photo in enumerate(ids)
        for label in (0, 1)
        if len(members := np.flatnonzero((photos == photo) & (labels == label)))
    ]
    loose = [members for label in (0, 1) if len(members := np.flatnonzero((photos < 0) & (labels == label)))]

    def draw(rng: np.random.Generator, rows: int, images: int) -> np.ndarray:
        counts = np.zeros((rows, images), np.int64)
        times = rng.multinomial(len(ids), np.full(len(ids), 1 / len(ids)), size=rows)  # (rows, photos)
        for index, members in cells:
            # m draws of n images with replacement = n * m draws of them: one multinomial per row
            counts[:, members] = rng.multinomial(
                times[:, index] * len(members), np.full(len(members), 1 / len(members))
            )
        for members in loose:
            counts[:, members] = rng.multinomial(len(members), np.full(len(members), 1 / len(members)), size=rows)
        return counts

    return draw


def _weighted_auc(labels: np.ndarray, scores: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """ROC AUC of each row of `counts` (image weights), ties counting one half, in O(resamples * images).

    The Mann-Whitney form: the share of (fake, real) pairs in which the fake scores higher. Images with
    equal scores share one level, so per resample and level only the class weights are needed.
    """
    order = np.argsort(scores, kind="stable")
    ranked = scores[order]
    starts = np.flatnonzero(np.concatenate([[True], ranked[1:] != ranked[:-1]]))
    weights = counts[:, order]
    fakes = np.add.reduceat(weights * labels[order], starts, axis=1)  # (resamples, levels) weight of fakes
    reals = np.add.reduceat(weights * (1 - labels[order]), starts, axis=1)
    reals_below = np.cumsum(reals, axis=1) - reals
    wins = (fakes * (reals_below + reals / 2)).sum(axis=1)
    return wins / (fakes.sum(axis=1) * reals.sum(axis=1))


def _metric_per_row(
    metric: str, labels: np.ndarray, scores: np.ndarray, threshold: float, counts: np.ndarray
) -> np.ndarray:
    if metric == "accuracy":
        correct = ((scores >= threshold).astype(np.int64) == labels).astype(np.float64)
        return counts @ correct / counts.sum(axis=1)
    return _weighted_auc(labels, scores, counts)


def seed_weights(seeds: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(resamples, seeds) weights: how often each training seed is drawn (with replacement, `seeds` draws) into
    each resample, divided by `seeds`, so each row sums to 1. One seed always gets weight 1."""
    return rng.multinomial(seeds, np.full(seeds, 1 / seeds), size=resamples) / seeds


def _per_seed(scores: np.ndarray, thresholds: float | list[float] | np.ndarray, name: str) -> tuple:
    """Scores as (seeds, images) float64 rows and one threshold per seed: a 1-D array is one seed."""
    scores = np.asarray(scores, dtype=np.float64)
    scores = scores[None] if scores.ndim == 1 else scores
    thresholds = np.broadcast_to(np.asarray(thresholds, dtype=np.float64), (len(scores),))
    if scores.ndim != 2 or len(scores) == 0:
        raise ValueError(f"{name} must be (images,) or (seeds, images), got shape {scores.shape}")
    return scores, thresholds


def paired_bootstrap(
    labels: np.ndarray,
    scores_a: np.ndarray,
    scores_b: np.ndarray,
    metric: str,
    *,
    seed: int,
    resamples: int = 2000,
    thresholds: tuple = (0.5, 0.5),
    level: float = 0.95,
) -> BootstrapInterval | None:
    """The seed-mean metric of a minus that of b, and its `level` percentile interval over a two-level bootstrap.

    `scores_a` and `scores_b` are p_fake per training seed and test image, (seeds, images), or (images,) for
    one seed; the detectors may have different numbers of seeds. `metric` is "accuracy" (each seed at its own
    threshold: `thresholds` = (a's, b's), a number or one per seed) or "roc_auc".

    What a re-run changes is both the training (seed, data order, initial weights) and which test images
    are drawn, so each resample draws both: every detector's seeds with replacement (`seed_weights`,
    independently for a and b, which are separate training runs), and the test images with replacement
    (`resample_counts`, the same draw for a and b, which score the same images). The difference of the drawn
    seeds' mean metric on the drawn images is one resample. With one seed each, or seeds that score alike,
    it is the image-only paired bootstrap; when seeds disagree, the seed draw widens the interval to their
    spread, which a test set of any size cannot shrink. The image draws depend on (labels, resamples, seed)
    only, so one seed gives one set of resamples whatever the metric or the number of training seeds.
    Returns None for ROC AUC on a one-class test set, where it is not defined.
    """
    return paired_bootstrap_sets(
        [(labels, scores_a, scores_b)], metric, seed=seed, resamples=resamples, thresholds=thresholds, level=level
    )


def paired_bootstrap_sets(
    sets: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    metric: str,
    *,
    seed: int,
    resamples: int = 2000,
    thresholds: tuple = (0.5, 0.5),
    level: float = 0.95,
    photos: list[np.ndarray] | None = None,
) -> BootstrapInterval | None:
    """`paired_bootstrap` of the metric averaged over several test sets, each (labels, scores_a, scores_b) with
    the seeds in the same order: e.g. the mean ROC AUC over the generators a detector never saw.

    A resample draws the seeds once (one training run is scored on every set) and each set's images on its
    own (the first set's draws are `paired_bootstrap`'s, set k's come from the seed [seed, k]); it takes the
    difference of the drawn seeds' mean, over the sets, metric. With `photos` (per set, each image's photograph
    as `resample_counts` takes it), the images are drawn photo by photo, and the interval without that level is
    kept beside it as `images_only`, so a reader sees how much the photographs widen it. None if the metric is
    not defined on a set.
    """
    if metric not in BOOTSTRAP_METRICS:
        raise ValueError(f"metric must be one of {', '.join(BOOTSTRAP_METRICS)}, got {metric!r}")
    if resamples < 1 or not 0 < level < 1:
        raise ValueError(f"resamples must be >= 1 and level in (0, 1), got {resamples} and {level}")
    if not sets:
        raise ValueError("paired_bootstrap_sets needs at least one test set")
    checked = []
    for labels, scores_a, scores_b in sets:
        (scores_a, thresholds_a), (scores_b, thresholds_b) = (
            _per_seed(scores, cut, name)
            for scores, cut, name in zip((scores_a, scores_b), thresholds, ("scores_a", "scores_b"), strict=True)
        )
        for rows, name in ((scores_a, "scores_a"), (scores_b, "scores_b")):
            for row in rows:
                labels = _checked(labels, row, name)[0]
        if metric == "roc_auc" and labels.min() == labels.max():
            return None
        checked.append((labels, (scores_a, thresholds_a), (scores_b, thresholds_b)))
    seed_counts = {(len(a[0]), len(b[0])) for _, a, b in checked}
    if len(seed_counts) > 1:
        raise ValueError(f"every test set needs the same seeds of a and b, got {sorted(seed_counts)}")
    tail = (1 - level) / 2

    def seed_metrics(labels: np.ndarray, run: tuple, counts: np.ndarray) -> np.ndarray:
        """(rows of counts, seeds): each seed's metric on each resample of the images."""
        scores, cuts = run
        return np.stack([_metric_per_row(metric, labels, s, t, counts) for s, t in zip(scores, cuts, strict=True)], 1)

    difference = np.mean(
        [
            seed_metrics(labels, a, np.ones((1, len(labels)), np.int64)).mean()
            - seed_metrics(labels, b, np.ones((1, len(labels)), np.int64)).mean()
            for labels, a, b in checked
        ]
    )
    seeds = seed_counts.pop()
    seed_draws = np.random.default_rng([seed, 1])  # a stream of its own: the image draws stay those of `seed`
    weights_a = seed_weights(seeds[0], resamples, seed_draws)
    weights_b = seed_weights(seeds[1], resamples, seed_draws)

    def interval(set_photos: list[np.ndarray | None]) -> tuple[float, float]:
        per_seed_a, per_seed_b = np.zeros((resamples, seeds[0])), np.zeros((resamples, seeds[1]))
        for index, ((labels, a, b), found) in enumerate(zip(checked, set_photos, strict=True)):
            done = 0
            for counts in resample_counts(labels, resamples, seed if index == 0 else [seed, index], found):
                rows = slice(done, done + len(counts))
                per_seed_a[rows] += seed_metrics(labels, a, counts) / len(checked)
                per_seed_b[rows] += seed_metrics(labels, b, counts) / len(checked)
                done += len(counts)
        spread = (per_seed_a * weights_a).sum(axis=1) - (per_seed_b * weights_b).sum(axis=1)
        low, high = np.quantile(spread, [tail, 1 - tail])
        return float(low), float(high)

    images_only = interval([None] * len(checked))
    if photos is None:
        return BootstrapInterval(metric, float(difference), *images_only, level, resamples, seeds)
    return BootstrapInterval(metric, float(difference), *interval(photos), level, resamples, seeds, images_only)


def bootstrap_image_means(
    values_a: np.ndarray,
    values_b: np.ndarray | None,
    strata: np.ndarray,
    *,
    metric: str,
    seed: int,
    resamples: int = 2000,
    level: float = 0.95,
) -> BootstrapInterval:
    """The seed mean of a per-image figure's mean over the images (e.g. accuracy: 1 for a right call, 0 for a
    wrong one), of a, minus b's when `values_b` is given; each (seeds, images). Its interval comes from the
    two-level bootstrap of `paired_bootstrap`: each resample draws every model's seeds with replacement and the
    images with replacement, the same for a and b (`resample_counts` on `strata`, e.g. each image's source,
    keeps at least two strata in a resample when there are two)."""
    a = np.atleast_2d(np.asarray(values_a, np.float64))
    b = np.zeros((1, a.shape[1])) if values_b is None else np.atleast_2d(np.asarray(values_b, np.float64))
    seed_draws = np.random.default_rng([seed, 1])  # a stream of its own, as in paired_bootstrap_sets
    weights_a, weights_b = seed_weights(len(a), resamples, seed_draws), seed_weights(len(b), resamples, seed_draws)
    spread, done = np.empty(resamples), 0
    for counts in resample_counts(np.asarray(strata), resamples, seed):
        rows = slice(done, done + len(counts))
        totals = counts.sum(axis=1, keepdims=True)
        spread[rows] = ((counts @ a.T / totals) * weights_a[rows]).sum(1) - (
            (counts @ b.T / totals) * weights_b[rows]
        ).sum(1)
        done += len(counts)
    tail = (1 - level) / 2
    low, high = np.quantile(spread, [tail, 1 - tail])
    seeds = (len(a), 0 if values_b is None else len(b))
    return BootstrapInterval(metric, float(a.mean() - b.mean()), float(low), float(high), level, resamples, seeds)


def verdict(interval: BootstrapInterval | None) -> str:
    """ "better" when the whole interval is above 0, "worse" when below 0, else "no clear difference"."""
    if interval is None:
        return "not defined"
    if interval.low > 0:
        return "better"
    if interval.high < 0:
        return "worse"
    return "no clear difference"


def _signed(value: float, digits: int) -> str:
    return f"{round(value, digits) + 0.0:+.{digits}f}"  # + 0.0 turns -0.0 into 0.0


def describe(interval: BootstrapInterval | None, digits: int = 3) -> str:
    """The verdict with its numbers, e.g. "better (+0.012, 95% CI +0.004 to +0.020)"."""
    if interval is None:
        return "not defined (the test set has one class)"
    images_only = (
        f"; over images only {_signed(interval.images_only[0], digits)} to {_signed(interval.images_only[1], digits)}"
        if interval.images_only
        else ""
    )
    return (
        f"{verdict(interval)} ({_signed(interval.difference, digits)}, {interval.level:.0%} CI "
        f"{_signed(interval.low, digits)} to {_signed(interval.high, digits)}{images_only})"
    )
