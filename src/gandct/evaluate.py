"""evaluate stage: score every trained detector on the test split, the unseen generator and perturbed tests.

Writes `reports/metrics.json` ({model: {test set: metrics}}), and for `dvc plots` the ROC and
precision-recall curves and the per-image predictions of each model on the clean test split under
`reports/evaluate/`. Every score starts from the fitted uint8 images of the feature cache; the perturbed
test sets apply a seeded perturbation to them (both classes alike) before each detector's own transform.
"""

from __future__ import annotations

import argparse
import json
import logging
import zlib

import numpy as np
from sklearn import metrics
from tqdm import tqdm

from gandct import paths
from gandct.cli import run_command
from gandct.datasets import load_split
from gandct.dct import Preprocessing
from gandct.detector import Detector
from gandct.detector_names import PIXELS
from gandct.fileio import write_csv, write_text
from gandct.logs import setup_logging
from gandct.params import Params, load_params
from gandct.perturbations import perturb_batch

log = logging.getLogger(__name__)

EVALUATION = paths.REPORTS / "evaluate"
CHUNK = 512  # test images perturbed at a time


def detection_metrics(labels: np.ndarray, p_fake: np.ndarray) -> dict[str, float | int]:
    """Threshold-free and threshold-0.5 figures of one model on one test set (1 = fake)."""
    predicted = (p_fake >= 0.5).astype(int)
    tn, fp, fn, tp = metrics.confusion_matrix(labels, predicted, labels=[0, 1]).ravel()
    return {
        "accuracy": round(float(metrics.accuracy_score(labels, predicted)), 6),
        "balanced_accuracy": round(float(metrics.balanced_accuracy_score(labels, predicted)), 6),
        "roc_auc": round(float(metrics.roc_auc_score(labels, p_fake)), 6),
        "average_precision": round(float(metrics.average_precision_score(labels, p_fake)), 6),
        "true_negatives": int(tn),
        "false_positives": int(fp),
        "false_negatives": int(fn),
        "true_positives": int(tp),
        "images": len(labels),
    }


def perturbed_sets(params: Params) -> list[tuple[str, str, float]]:
    """(name, kind, level) of every perturbed test set, e.g. ("jpeg_75", "jpeg", 75.0)."""
    return [
        (f"{kind}_{level:g}", kind, level) for kind, levels in params.evaluate.perturbations.items() for level in levels
    ]


def score_perturbed(detectors: dict[str, Detector], params: Params) -> dict[str, dict[str, np.ndarray]]:
    """p_fake of every model on every perturbed copy of the test split: {set name: {model: p_fake}}."""
    fitted_test, _ = load_split("test", PIXELS)
    sets = perturbed_sets(params)
    scores: dict[str, dict[str, list[np.ndarray]]] = {name: {model: [] for model in detectors} for name, _, _ in sets}
    for start in tqdm(range(0, len(fitted_test), CHUNK), desc="evaluate perturbed", unit="chunk"):
        fitted = np.asarray(fitted_test[start : start + CHUNK])
        for name, kind, level in sets:
            seed = zlib.crc32(f"{params.seed}:{name}:{start}".encode())  # a different noise draw per chunk
            perturbed = perturb_batch(fitted, kind, level, seed)
            for model_name, detector in detectors.items():
                scores[name][model_name].append(detector.predict_fitted(perturbed, params.evaluate.batch_size))
    return {
        name: {model: np.concatenate(parts) for model, parts in by_model.items()} for name, by_model in scores.items()
    }


def write_curves(model_name: str, labels: np.ndarray, p_fake: np.ndarray) -> None:
    """ROC and precision-recall points, and per-image predictions, for `dvc plots` (clean test split)."""
    fpr, tpr, _ = metrics.roc_curve(labels, p_fake)
    precision, recall, _ = metrics.precision_recall_curve(labels, p_fake)
    roc = [{"fpr": round(float(f), 6), "tpr": round(float(t), 6)} for f, t in zip(fpr, tpr, strict=True)]
    pr = [
        {"recall": round(float(r), 6), "precision": round(float(p), 6)} for r, p in zip(recall, precision, strict=True)
    ]
    write_csv(EVALUATION / "roc" / f"{model_name}.csv", ["fpr", "tpr"], roc)
    write_csv(EVALUATION / "precision_recall" / f"{model_name}.csv", ["recall", "precision"], pr)
    names = {0: "real", 1: "fake"}
    rows = [{"actual": names[int(y)], "predicted": names[int(p >= 0.5)]} for y, p in zip(labels, p_fake, strict=True)]
    write_csv(EVALUATION / "predictions" / f"{model_name}.csv", ["actual", "predicted"], rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="gandct evaluate", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    setup_logging()
    params = load_params()
    preprocessing = Preprocessing.from_params(params.features)
    detectors = {name: Detector.load(paths.detector_model(name)) for name in params.train.models}
    for detector in detectors.values():
        detector.stats.check_matches(preprocessing)  # the cache was made with params.features

    results: dict[str, dict[str, dict]] = {name: {} for name in detectors}
    for split in paths.TEST_SETS:
        fitted, labels = load_split(split, PIXELS)
        labels = np.asarray(labels)
        for name, detector in detectors.items():
            p_fake = detector.predict_fitted(fitted, params.evaluate.batch_size)
            results[name][split] = detection_metrics(labels, p_fake)
            if split == "test":
                write_curves(name, labels, p_fake)
    labels = np.asarray(load_split("test", PIXELS)[1])
    for set_name, by_model in score_perturbed(detectors, params).items():
        for name, p_fake in by_model.items():
            results[name][set_name] = detection_metrics(labels, p_fake)

    write_text(paths.REPORTS / "metrics.json", json.dumps(results, indent=2) + "\n")
    for name, by_set in results.items():
        log.info(
            "%s: %s", name, ", ".join(f"{s} acc {m['accuracy']:.3f} auc {m['roc_auc']:.3f}" for s, m in by_set.items())
        )


if __name__ == "__main__":
    run_command("evaluate", main)
