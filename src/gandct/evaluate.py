"""evaluate stage: score every seed of every detector on the test split, the unseen generator and perturbed tests.

Writes `reports/evaluate/detail.json`: per detector and test set each seed's metrics and their mean and
standard deviation over seeds, the metrics of the seed-averaged scores, and the paired bootstrap intervals of
the comparisons (`COMPARISONS`) on those averaged scores. `reports/metrics.json` holds only the headline
numbers (DVC metrics). For `dvc plots`: the ROC and precision-recall curves and the per-image predictions of
each detector's seed-averaged scores on the clean test split, under `reports/evaluate/`. Every score starts
from the fitted uint8 images of the feature cache; the perturbed test sets apply a seeded perturbation to them
(both classes alike) before each detector's own transform.
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
from gandct.cli import run_command
from gandct.comparison import (
    BOOTSTRAP_METRICS,
    choose_threshold,
    describe,
    detection_metrics,
    paired_bootstrap,
    summarise_seeds,
)
from gandct.datasets import load_split
from gandct.dct import Preprocessing
from gandct.detector import Detector
from gandct.detector_names import PIXELS, trained_seeds
from gandct.fileio import write_csv, write_text
from gandct.logs import progress, setup_logging
from gandct.params import Params, load_params
from gandct.perturbations import perturb_batch

log = logging.getLogger(__name__)

CHUNK = 512  # test images perturbed at a time
# (a, b): the 95% interval of a - b on every test set, when both are in train.models
COMPARISONS = (("custom", "paper"), ("paper", "paper_pixel"), ("paper", "linear"))
SEED_METRICS = ("accuracy", "balanced_accuracy", "roc_auc", "average_precision")  # at 0.5, and ranking
THRESHOLD_METRICS = ("accuracy", "balanced_accuracy")  # also at the val-chosen threshold, with this suffix
AT_THRESHOLD = "_at_val_threshold"
HEADLINE = {
    "test": ("accuracy", "roc_auc"),
    "test_unseen": ("roc_auc",),
    "test_paired": ("roc_auc",),
    "jpeg_75": ("roc_auc",),
}
HEADLINE_COMPARISON = ("custom", "paper", "test", "roc_auc")

Key = TypeVar("Key", bound=Hashable)


def perturbed_sets(params: Params) -> list[tuple[str, str, float]]:
    """(name, kind, level) of every perturbed test set, e.g. ("jpeg_75", "jpeg", 75.0)."""
    return [
        (f"{kind}_{level:g}", kind, level) for kind, levels in params.evaluate.perturbations.items() for level in levels
    ]


def score_perturbed(detectors: dict[Key, Detector], params: Params) -> dict[str, dict[Key, np.ndarray]]:
    """p_fake of every detector on every perturbed copy of the test split: {set name: {detector key: p_fake}}."""
    fitted_test, _ = load_split("test", PIXELS)
    sets = perturbed_sets(params)
    scores: dict[str, dict[Key, list[np.ndarray]]] = {name: {key: [] for key in detectors} for name, _, _ in sets}
    for start in progress(range(0, len(fitted_test), CHUNK), desc="evaluate perturbed", unit="chunk"):
        fitted = np.asarray(fitted_test[start : start + CHUNK])
        for name, kind, level in sets:
            seed = zlib.crc32(f"{params.seed}:{name}:{start}".encode())  # a different noise draw per chunk
            perturbed = perturb_batch(fitted, kind, level, seed)
            for key, detector in detectors.items():
                scores[name][key].append(detector.predict_fitted(perturbed, params.evaluate.batch_size))
    return {name: {key: np.concatenate(parts) for key, parts in by_key.items()} for name, by_key in scores.items()}


def score_split(
    detectors: dict[Key, Detector], split: str, batch_size: int
) -> tuple[np.ndarray, dict[Key, np.ndarray]]:
    """The labels of a cached split and every detector's p_fake on it."""
    fitted, labels = load_split(split, PIXELS)
    return np.asarray(labels).astype(np.int64), {
        key: detector.predict_fitted(fitted, batch_size) for key, detector in detectors.items()
    }


def seed_metrics(labels: np.ndarray, p_fake: np.ndarray, threshold: float) -> dict[str, float | None]:
    """One seed's figures on one test set: SEED_METRICS at 0.5 and THRESHOLD_METRICS at its val threshold."""
    at_half, at_threshold = detection_metrics(labels, p_fake), detection_metrics(labels, p_fake, threshold)
    return {name: at_half[name] for name in SEED_METRICS} | {
        name + AT_THRESHOLD: at_threshold[name] for name in THRESHOLD_METRICS
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


def comparisons(
    names: list[str],
    labels: dict[str, np.ndarray],
    mean_scores: dict[str, dict[str, np.ndarray]],
    thresholds: dict[str, float],
    params: Params,
) -> dict[str, dict[str, dict[str, dict | None]]]:
    """{"a - b": {test set: {metric: interval}}} of the seed-averaged scores, for each pair of COMPARISONS
    whose detectors were both trained; accuracy at each detector's val threshold of its averaged scores."""
    found: dict[str, dict[str, dict[str, dict | None]]] = {}
    for first, second in COMPARISONS:
        if first not in names or second not in names:
            continue
        by_set = found.setdefault(f"{first} - {second}", {})
        for test_set, set_labels in labels.items():
            by_set[test_set] = {}
            for metric in BOOTSTRAP_METRICS:
                interval = paired_bootstrap(
                    set_labels,
                    mean_scores[test_set][first],
                    mean_scores[test_set][second],
                    metric,
                    seed=params.seed,
                    resamples=params.evaluate.bootstrap_resamples,
                    thresholds=(thresholds[first], thresholds[second]),
                )
                by_set[test_set][metric] = interval and interval.to_dict()
                log.info("%s - %s, %s, %s: %s", first, second, test_set, metric, describe(interval))
    return found


def headline(detail: dict) -> dict:
    """The few numbers `dvc metrics show` and `dvc exp show` compare runs by: per detector the seed mean of
    HEADLINE's metrics on the sets that exist, and the custom - paper ROC AUC interval on the clean test."""
    numbers: dict[str, dict] = {}
    for name, result in detail["detectors"].items():
        for test_set, wanted in HEADLINE.items():
            summary = result["sets"].get(test_set, {}).get("seeds")
            for metric in wanted if summary else ():
                if summary[metric]["mean"] is not None:
                    numbers.setdefault(name, {}).setdefault(test_set, {})[metric] = summary[metric]["mean"]
    first, second, test_set, metric = HEADLINE_COMPARISON
    interval = detail["comparisons"].get(f"{first} - {second}", {}).get(test_set, {}).get(metric)
    if interval:
        bounds = {key: interval[key] for key in ("difference", "low", "high")}
        numbers[f"{first}_minus_{second}"] = {test_set: {metric: bounds}}
    return numbers


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="gandct evaluate", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    setup_logging()
    params = load_params()
    preprocessing = Preprocessing.from_params(params.features)
    names = list(params.train.models)
    detectors = {
        (name, seed): Detector.load(paths.seed_model(name, seed))
        for name in names
        for seed in trained_seeds(name, params.train.seeds)
    }
    for detector in detectors.values():
        detector.stats.check_matches(preprocessing)  # the cache was made with params.features

    batch = params.evaluate.batch_size
    val_labels, val_scores = score_split(detectors, "val", batch)
    labels, scores = {}, {}  # per test set: the labels, and {(name, seed): p_fake}
    for split in paths.TEST_SETS:
        labels[split], scores[split] = score_split(detectors, split, batch)
    for set_name, by_key in score_perturbed(detectors, params).items():
        labels[set_name], scores[set_name] = labels["test"], by_key

    def seed_mean(by_key: dict[tuple[str, int], np.ndarray], name: str) -> np.ndarray:
        return np.mean([p_fake for (owner, _), p_fake in by_key.items() if owner == name], axis=0)

    # The seed-averaged scores get their own val threshold, chosen as each seed's was.
    thresholds = {name: choose_threshold(val_labels, seed_mean(val_scores, name)) for name in names}
    mean_scores = {test_set: {name: seed_mean(by_key, name) for name in names} for test_set, by_key in scores.items()}
    results: dict[str, dict] = {}
    for name in names:
        seeds = trained_seeds(name, params.train.seeds)
        sets = {}
        for test_set, set_labels in labels.items():
            per_seed = {
                seed: seed_metrics(set_labels, scores[test_set][name, seed], detectors[name, seed].threshold)
                for seed in seeds
            }
            sets[test_set] = {
                "images": len(set_labels),
                "seeds": summarise_seeds(per_seed),
                "seed_mean_scores": seed_metrics(set_labels, mean_scores[test_set][name], thresholds[name]),
            }
        results[name] = {
            "seeds": seeds,
            "val_thresholds": {str(seed): detectors[name, seed].threshold for seed in seeds},
            "seed_mean_val_threshold": thresholds[name],
            "sets": sets,
        }
        write_curves(name, labels["test"], mean_scores["test"][name], thresholds[name])

    detail = {
        "bootstrap": {"resamples": params.evaluate.bootstrap_resamples, "seed": params.seed},
        "detectors": results,
        "comparisons": comparisons(names, labels, mean_scores, thresholds, params),
    }
    write_text(paths.EVALUATION_DETAIL, json.dumps(detail, indent=2) + "\n")
    write_text(paths.METRICS, json.dumps(headline(detail), indent=2) + "\n")
    for name, result in results.items():
        test = result["sets"]["test"]["seeds"]
        log.info(
            "%s: clean test accuracy %s, ROC AUC %s (seed means)",
            name,
            test["accuracy"]["mean"],
            test["roc_auc"]["mean"],
        )


if __name__ == "__main__":
    run_command("evaluate", main)
