"""evaluate stage: score every seed of every detector, and the seed ensemble users score with, on every test set.

Test sets: one per generator (`paths.SPLIT_GENERATOR`: the test reals with that generator's test fakes), and
perturbed copies of `test`, the ProGAN's. The generators no detector trained on (not in train.fakes) are the
unseen ones; every metric also gets its mean over them, `unseen_mean`, and over the generators someone else
trained (`paths.THIRD_PARTY_SETS`, never trained on), `third_party_mean`. The metrics follow Wang et al. 2020:
ROC AUC, average precision, accuracy at the val threshold split into reals and fakes, the accuracy at the
set's own best threshold (oracle), and the detection rate at 5% false alarms on the reals; and how far p_fake
can be taken at its word, its expected calibration error (`gandct.calibration`, 15 bins), with the seed
ensemble's reliability bins per set.
Writes `reports/evaluate/detail.json`: per detector and test set each seed's metrics with their mean and
standard deviation over seeds, the ensemble's metrics, and for each pair of `COMPARISONS` the difference of
the seed-mean metrics with its interval over resampled seeds and test images (`comparison.paired_bootstrap`,
and `paired_bootstrap_sets` for the unseen mean).
`reports/metrics.json` holds only the headline numbers (DVC metrics). `reports/evaluate/scores/<set>.csv`
holds every image's p_fake from every seed and the ensemble, so any interval can be recomputed without Keras.
For `dvc plots`: the ensemble's ROC and precision-recall curves and per-image predictions on the clean test
split. Every score starts from the framed uint8 images of the feature cache; the perturbed test sets apply a
seeded perturbation to them (both classes alike) before each detector's own transform.
"""

from __future__ import annotations

import argparse
import json
import logging
import zlib
from collections.abc import Hashable
from typing import TypeVar

import numpy as np
from sklearn import metrics

from gandct import paths
from gandct.calibration import expected_calibration_error, reliability
from gandct.claim import CLAIM
from gandct.comparison import (
    BOOTSTRAP_METRICS,
    BootstrapInterval,
    describe,
    detection_metrics,
    detection_rate_at_false_alarms,
    oracle_accuracy,
    paired_bootstrap_sets,
    photo_indices,
    summarise_seeds,
)
from gandct.datasets import load_split
from gandct.dct import Preprocessing
from gandct.detector import Detector
from gandct.detector_names import PIXELS, trained_seeds
from gandct.entry import run_command
from gandct.fileio import read_csv, write_csv, write_text
from gandct.logs import progress, setup_logging
from gandct.params import Params, load_params
from gandct.perturbations import perturb_batch

log = logging.getLogger(__name__)

CHUNK = 512  # test images perturbed at a time
# (a, b): the 95% interval of a - b on every test set, when both are in train.models
COMPARISONS = (CLAIM, ("paper", "paper_pixel"), ("paper", "linear"))
SEED_METRICS = ("accuracy", "balanced_accuracy", "roc_auc", "average_precision")  # at 0.5, and ranking
THRESHOLD_METRICS = ("accuracy", "balanced_accuracy")  # also at the val-chosen threshold, with this suffix
AT_THRESHOLD = "_at_val_threshold"
HEADLINE = {
    "test": ("accuracy", "roc_auc"),
    paths.UNSEEN_MEAN: ("roc_auc",),
    paths.THIRD_PARTY_MEAN: ("roc_auc",),
    "jpeg_75": ("roc_auc",),
}
# custom - paper, the project's claim: its interval on these sets (those that exist) is a headline number
HEADLINE_COMPARISON = (*CLAIM, ("test", paths.UNSEEN_MEAN, paths.THIRD_PARTY_MEAN, "jpeg_75"), "roc_auc")
ENSEMBLE = "ensemble"  # the key of a detector's seed ensemble beside its seeds' (name, seed) keys
FALSE_ALARMS = 0.05  # the share of reals called fake at which the detection rate is read

Key = TypeVar("Key", bound=Hashable)


def perturbation_plan(params: Params) -> list[tuple[str, str, float]]:
    """(name, kind, level) of every perturbed test set, e.g. ("jpeg_75", "jpeg", 75.0)."""
    return [
        (f"{kind}_{level:g}", kind, level) for kind, levels in params.evaluate.perturbations.items() for level in levels
    ]


def score_perturbed(detectors: dict[Key, Detector], params: Params) -> dict[str, dict[Key, np.ndarray]]:
    """p_fake of every detector on every perturbed copy of the test split: {set name: {detector key: p_fake}}."""
    framed_test, _ = load_split("test", PIXELS)
    sets = perturbation_plan(params)
    scores: dict[str, dict[Key, list[np.ndarray]]] = {name: {key: [] for key in detectors} for name, _, _ in sets}
    for start in progress(range(0, len(framed_test), CHUNK), desc="evaluate perturbed", unit="chunk"):
        framed = np.asarray(framed_test[start : start + CHUNK])
        for name, kind, level in sets:
            seed = zlib.crc32(f"{params.seed}:{name}:{start}".encode())  # a different noise draw per chunk
            perturbed = perturb_batch(framed, kind, level, seed)
            for key, detector in detectors.items():
                scores[name][key].append(detector.predict_framed(perturbed, params.evaluate.batch_size))
    return {name: {key: np.concatenate(parts) for key, parts in by_key.items()} for name, by_key in scores.items()}


def score_split(
    detectors: dict[Key, Detector], split: str, batch_size: int
) -> tuple[np.ndarray, dict[Key, np.ndarray]]:
    """The labels of a cached split and every detector's p_fake on it."""
    framed, labels = load_split(split, PIXELS)
    return np.asarray(labels).astype(np.int64), {
        key: detector.predict_framed(framed, batch_size) for key, detector in detectors.items()
    }


def mean_groups(train_fakes: list[str]) -> dict[str, list[str]]:
    """The test sets each mean runs over: paths.UNSEEN_MEAN, those of the generators built here that train.fakes
    does not name; paths.THIRD_PARTY_MEAN, those of the generators someone else trained. An empty group is left
    out."""
    unseen = [
        test_set
        for test_set, gan in paths.SPLIT_GENERATOR.items()
        if gan not in train_fakes and test_set not in paths.THIRD_PARTY_SETS
    ]
    groups = {paths.UNSEEN_MEAN: unseen, paths.THIRD_PARTY_MEAN: list(paths.THIRD_PARTY_SETS)}
    return {name: members for name, members in groups.items() if members}


def seed_metrics(labels: np.ndarray, p_fake: np.ndarray, threshold: float) -> dict[str, float | None]:
    """One model's figures on one test set: SEED_METRICS at 0.5; THRESHOLD_METRICS at its val threshold, with
    the accuracy on the reals and on the fakes apart (a detector that calls nearly everything real, or fake,
    shows here); the oracle accuracy; the detection rate at FALSE_ALARMS of the reals called fake; the expected
    calibration error of p_fake."""
    at_half, at_threshold = detection_metrics(labels, p_fake), detection_metrics(labels, p_fake, threshold)
    kept_real, called_fake = at_threshold["true_negatives"], at_threshold["false_positives"]
    caught, missed = at_threshold["true_positives"], at_threshold["false_negatives"]
    return (
        {name: at_half[name] for name in SEED_METRICS}
        | {name + AT_THRESHOLD: at_threshold[name] for name in THRESHOLD_METRICS}
        | {
            "real_accuracy" + AT_THRESHOLD: round(kept_real / (kept_real + called_fake), 6)
            if kept_real + called_fake
            else None,
            "fake_accuracy" + AT_THRESHOLD: round(caught / (caught + missed), 6) if caught + missed else None,
            "oracle_accuracy": oracle_accuracy(labels, p_fake),
            "detection_at_5_percent_false_alarms": detection_rate_at_false_alarms(labels, p_fake, FALSE_ALARMS),
            "calibration_error": expected_calibration_error(labels, p_fake),
        }
    )


def mean_over_sets(per_set: list[dict[str, float | None]]) -> dict[str, float | None]:
    """Each metric's mean over the test sets' figures of one model (None where any set has None)."""
    return {
        name: None
        if any(figures[name] is None for figures in per_set)
        else round(float(np.mean([f[name] for f in per_set])), 6)
        for name in per_set[0]
    }


def write_curves(model_name: str, labels: np.ndarray, p_fake: np.ndarray, threshold: float) -> None:
    """ROC and precision-recall points, and per-image predictions at `threshold`, for `dvc plots`."""
    fpr, tpr, _ = metrics.roc_curve(labels, p_fake)
    precision, recall, _ = metrics.precision_recall_curve(labels, p_fake)
    roc = [{"fpr": round(float(f), 6), "tpr": round(float(t), 6)} for f, t in zip(fpr, tpr, strict=True)]
    pr = [
        {"recall": round(float(r), 6), "precision": round(float(p), 6)} for r, p in zip(recall, precision, strict=True)
    ]
    write_csv(paths.EVALUATION / "roc" / f"{model_name}.csv", ["fpr", "tpr"], roc)
    write_csv(paths.EVALUATION / "precision_recall" / f"{model_name}.csv", ["recall", "precision"], pr)
    names = {0: "real", 1: "fake"}
    rows = [
        {"actual": names[int(y)], "predicted": names[int(p >= threshold)]} for y, p in zip(labels, p_fake, strict=True)
    ]
    write_csv(paths.EVALUATION / "predictions" / f"{model_name}.csv", ["actual", "predicted"], rows)


def score_column(key: tuple[str, int | str]) -> str:
    """The scores file's column of one model: "paper_seed_3", or "paper_ensemble"."""
    name, seed = key
    return f"{name}_{ENSEMBLE}" if seed == ENSEMBLE else f"{name}_seed_{seed}"


def write_scores(
    test_set: str, split: str, labels: np.ndarray, by_key: dict[tuple[str, int | str], np.ndarray]
) -> None:
    """reports/evaluate/scores/<test_set>.csv: each image's id (its path), label, generator and group as the
    features stage listed them (`split` is the split whose images the set holds), then every model's p_fake in the
    shortest text that reads back to the same float64 (repr), so ranks and ties survive the file exactly."""
    ids = read_csv(paths.features_file(split, "ids.csv"))
    columns = {score_column(key): p_fake.tolist() for key, p_fake in by_key.items()}
    rows = [
        {"id": row["path"], "label": int(label), "generator": row["generator"], "group": row["group"]}
        | {column: repr(values[index]) for column, values in columns.items()}
        for index, (row, label) in enumerate(zip(ids, labels, strict=True))
    ]
    write_csv(paths.EVALUATION_SCORES / f"{test_set}.csv", ["id", "label", "generator", "group", *columns], rows)


def comparisons(
    names: list[str],
    labels: dict[str, np.ndarray],
    scores: dict[str, dict[tuple[str, int | str], np.ndarray]],
    seeds: dict[str, list[int]],
    thresholds: dict[tuple[str, int | str], float],
    means: dict[str, list[str]],
    photos: dict[str, np.ndarray],
    params: Params,
) -> dict[str, dict[str, dict[str, dict | None]]]:
    """{"a - b": {test set or mean: {metric: interval}}} for each pair of COMPARISONS whose detectors were both
    trained: the difference of their seed-mean metrics, resampling seeds, photographs (`photos`: per set, each
    image's `photo_indices`) and test images together, with the interval without the photo level beside it;
    accuracy at each seed's own val threshold. A mean's (`means`: name -> its test sets) is that of the mean over
    its sets."""
    found: dict[str, dict[str, dict[str, dict | None]]] = {}
    for first, second in COMPARISONS:
        if first not in names or second not in names:
            continue
        by_set = found.setdefault(f"{first} - {second}", {})
        cuts = tuple([thresholds[name, seed] for seed in seeds[name]] for name in (first, second))

        def runs(test_set: str, first: str = first, second: str = second) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            pair = (np.stack([scores[test_set][name, seed] for seed in seeds[name]]) for name in (first, second))
            return (labels[test_set], *pair)

        groups = {test_set: [test_set] for test_set in labels} | means
        for test_set, members in groups.items():
            by_set[test_set] = {}
            for metric in BOOTSTRAP_METRICS:
                interval = paired_bootstrap_sets(
                    [runs(member) for member in members],
                    metric,
                    seed=params.seed,
                    resamples=params.evaluate.bootstrap_resamples,
                    thresholds=cuts,
                    photos=[photos[member] for member in members],
                )
                # The verdict is read from the published (rounded) numbers, as the report reads it.
                by_set[test_set][metric] = interval and interval.to_dict()
                published = interval and BootstrapInterval.from_dict(by_set[test_set][metric])
                log.info("%s - %s, %s, %s: %s", first, second, test_set, metric, describe(published))
    return found


def headline(detail: dict) -> dict:
    """The few numbers `dvc metrics show` and `dvc exp show` compare runs by: per detector the seed mean of
    HEADLINE's metrics on the sets that exist, and the custom - paper interval on HEADLINE_COMPARISON's sets."""
    numbers: dict[str, dict] = {}
    for name, result in detail["detectors"].items():
        for test_set, wanted in HEADLINE.items():
            summary = result["sets"].get(test_set, {}).get("seeds")
            for metric in wanted if summary else ():
                if summary[metric]["mean"] is not None:
                    numbers.setdefault(name, {}).setdefault(test_set, {})[metric] = summary[metric]["mean"]
    first, second, test_sets, metric = HEADLINE_COMPARISON
    for test_set in test_sets:
        interval = detail["comparisons"].get(f"{first} - {second}", {}).get(test_set, {}).get(metric)
        if interval:
            bounds = {key: interval[key] for key in ("difference", "low", "high")}
            numbers.setdefault(f"{first}_minus_{second}", {})[test_set] = {metric: bounds}
    return numbers


def load_detectors(names: list[str], params: Params) -> dict[tuple[str, int | str], Detector]:
    """Every seed's model of every detector, keyed (name, seed), and each seed ensemble, keyed (name, ENSEMBLE);
    all checked against the feature cache's preprocessing."""
    preprocessing = Preprocessing.from_params(params.features)
    detectors: dict[tuple[str, int | str], Detector] = {}
    for name in names:
        for seed in trained_seeds(name, params.train.seeds):
            detectors[name, seed] = Detector.load(paths.seed_model(name, seed))
        detectors[name, ENSEMBLE] = Detector.load(paths.detector_model(name))
    for detector in detectors.values():
        detector.stats.check_matches(preprocessing)  # the cache was made with params.features
    return detectors


def detector_results(
    name: str,
    seeds: list[int],
    labels: dict[str, np.ndarray],
    scores: dict[str, dict[tuple[str, int | str], np.ndarray]],
    thresholds: dict[tuple[str, int | str], float],
    means: dict[str, list[str]],
) -> dict:
    """One detector's figures: per test set each seed's metrics with their summary, and the ensemble's with its
    reliability bins; and under each mean of `means` (name -> its test sets) the same for the mean of each metric
    over its sets."""
    sets, per_set = {}, {}
    for test_set, set_labels in labels.items():
        per_set[test_set] = {
            key: seed_metrics(set_labels, scores[test_set][name, key], thresholds[name, key])
            for key in (*seeds, ENSEMBLE)
        }
        sets[test_set] = {
            "images": len(set_labels),
            "seeds": summarise_seeds({seed: per_set[test_set][seed] for seed in seeds}),
            ENSEMBLE: per_set[test_set][ENSEMBLE],
            "reliability": reliability(set_labels, scores[test_set][name, ENSEMBLE]),
        }
    for mean, members in means.items():
        figures = {key: mean_over_sets([per_set[test_set][key] for test_set in members]) for key in (*seeds, ENSEMBLE)}
        sets[mean] = {
            "images": sum(len(labels[test_set]) for test_set in members),
            "sets": members,
            "seeds": summarise_seeds({seed: figures[seed] for seed in seeds}),
            ENSEMBLE: figures[ENSEMBLE],
        }
    return {
        "seeds": seeds,
        "val_thresholds": {str(seed): thresholds[name, seed] for seed in seeds},
        "ensemble_val_threshold": thresholds[name, ENSEMBLE],
        "sets": sets,
    }


def score_test_sets(
    detectors: dict[tuple[str, int | str], Detector], params: Params
) -> tuple[dict[str, np.ndarray], dict[str, dict[tuple[str, int | str], np.ndarray]]]:
    """Every model's p_fake on every test set, the generators' then the perturbed copies of `test`, each set's
    written to its scores file: the labels per set, and per set {(name, seed or ENSEMBLE): p_fake}."""
    labels, scores = {}, {}
    for split in paths.TEST_SETS:
        labels[split], scores[split] = score_split(detectors, split, params.evaluate.batch_size)
        write_scores(split, split, labels[split], scores[split])
    for set_name, by_key in score_perturbed(detectors, params).items():
        labels[set_name], scores[set_name] = labels["test"], by_key
        write_scores(set_name, "test", labels[set_name], by_key)
    return labels, scores


def flagged_by_format(
    names: list[str],
    seeds: dict[str, list[int]],
    scores: dict[str, dict[tuple[str, int | str], np.ndarray]],
    thresholds: dict[tuple[str, int | str], float],
) -> dict:
    """The share of the test reals each detector flags fake at its val threshold, by the encoding their photograph
    was first stored in (the manifest's format: jpeg, png), on the clean test split and on its JPEG-encoded
    copies. A detector that keys on the 8-px JPEG block grid of some photos flags those less, and flags the
    PNG-born ones less too once they are JPEG-encoded (the control: the same photos, with a grid added). Per set
    and format the seed mean and spread and the ensemble's share; per photo the ensemble's share on the clean set."""
    ids = read_csv(paths.features_file("test", "ids.csv"))
    format_of = {row["path"]: row["format"] for row in read_csv(paths.MANIFEST)}
    reals = [(index, row) for index, row in enumerate(ids) if row["label"] == "0"]
    formats = sorted({format_of[row["path"]] for _, row in reals})
    rows = {found: np.array([i for i, row in reals if format_of[row["path"]] == found]) for found in formats}
    groups = sorted({row["group"] for _, row in reals})
    by_photo = {group: np.array([i for i, row in reals if row["group"] == group]) for group in groups}
    sets = ["test", *(name for name in scores if name.startswith("jpeg_"))]
    result: dict = {
        "photos": {found: sorted({ids[i]["group"] for i in rows[found]}) for found in formats},
        "images": {found: len(rows[found]) for found in formats},
        "sets": sets,
        "detectors": {},
    }
    for name in names:

        def share(test_set: str, key: tuple[str, int | str], where: np.ndarray, name: str = name) -> float:
            return round(float(np.mean(scores[test_set][key][where] >= thresholds[key])), 6)

        result["detectors"][name] = {
            test_set: {
                found: summarise_seeds(
                    {seed: {"flagged": share(test_set, (name, seed), rows[found])} for seed in seeds[name]}
                )["flagged"]
                | {ENSEMBLE: share(test_set, (name, ENSEMBLE), rows[found])}
                for found in formats
            }
            for test_set in sets
        } | {"photos": {group: share("test", (name, ENSEMBLE), by_photo[group]) for group in groups}}
    return result


def log_roc_auc(results: dict[str, dict]) -> None:
    """Each detector's ROC AUC, seed mean and ensemble, on the generators' test sets and their means."""
    for name, result in results.items():
        for test_set, figures in result["sets"].items():
            if test_set in (*paths.TEST_SETS, paths.UNSEEN_MEAN, paths.THIRD_PARTY_MEAN):
                log.info(
                    "%s on %s: ROC AUC %s (seed mean), %s (ensemble)",
                    name,
                    test_set,
                    figures["seeds"]["roc_auc"]["mean"],
                    figures[ENSEMBLE]["roc_auc"],
                )


def main(argv: list[str] | None = None) -> None:
    """Run the stage: score every detector and write the metrics and the detail."""
    parser = argparse.ArgumentParser(prog="gandct evaluate", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    setup_logging()
    params = load_params()
    names = list(params.train.models)
    seeds = {name: trained_seeds(name, params.train.seeds) for name in names}
    detectors = load_detectors(names, params)
    thresholds = {key: detector.threshold for key, detector in detectors.items()}
    labels, scores = score_test_sets(detectors, params)
    photos = {split: photo_indices(read_csv(paths.features_file(split, "ids.csv"))) for split in paths.TEST_SETS}
    photos |= {set_name: photos["test"] for set_name in labels if set_name not in photos}  # perturbed copies

    means = mean_groups(params.train.fakes)
    results = {name: detector_results(name, seeds[name], labels, scores, thresholds, means) for name in names}
    for name in names:
        write_curves(name, labels["test"], scores["test"][name, ENSEMBLE], thresholds[name, ENSEMBLE])
    detail = {
        "bootstrap": {
            "resamples": params.evaluate.bootstrap_resamples,
            "seed": params.seed,
            "resampled": "each detector's training seeds, the test photographs and their images (paired across "
            "detectors); images_only: the same without the photo level",
        },
        "unseen_sets": means.get(paths.UNSEEN_MEAN, []),
        "third_party_sets": means.get(paths.THIRD_PARTY_MEAN, []),
        "detectors": results,
        "comparisons": comparisons(names, labels, scores, seeds, thresholds, means, photos, params),
        "reals_flagged_by_format": flagged_by_format(names, seeds, scores, thresholds),
    }
    write_text(paths.EVALUATION_DETAIL, json.dumps(detail, indent=2) + "\n")
    write_text(paths.METRICS, json.dumps(headline(detail), indent=2) + "\n")
    log_roc_auc(results)


if __name__ == "__main__":
    run_command("evaluate", main)
