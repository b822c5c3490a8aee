"""evaluate_attribution stage: score every attributor on the test images of every source, `gandct
evaluate_attribution`.

The test images are those the detectors are tested on: the photos of the test split (of `data/processed/test`)
and every test set's fakes, each labelled with its generator (`paths.SOURCES`); the source data set's own fakes,
of unknown source, are left out. Each seed's model and the seed ensemble (`models/attributors/`) name the
likeliest source of every image. Writes `reports/attribution/metrics.json` (DVC metrics: per model the
seed-mean accuracy, overall and per source, with a 95% interval that resamples the training seeds and the test
images, as the detectors' comparisons do; and `custom - paper` when both are trained) and
`reports/attribution/detail.json` (the same per seed, the test images per source and each model's confusion
matrix: image counts, rows the true source, columns the named one, per seed and for the ensemble).
"""

from __future__ import annotations

import argparse
import json
import logging

import numpy as np

from gandct import paths
from gandct.claim import CLAIM
from gandct.comparison import DIGITS, BootstrapInterval, bootstrap_image_means
from gandct.detector import Detector
from gandct.detector_names import trained_seeds
from gandct.entry import run_command
from gandct.fileio import read_csv, write_text
from gandct.logs import setup_logging
from gandct.params import Params, load_params

log = logging.getLogger(__name__)


def test_images() -> tuple[np.ndarray, np.ndarray]:
    """The framed test images of every source (uint8, (N, H, W, C)) and their source indices in paths.SOURCES:
    the photos once (from `test`), then each test set's fakes of its own generator (of the generators an
    attributor knows: the third-party sets are no source it learned)."""
    parts, labels = [], []
    for test_set, generator in paths.SPLIT_GENERATOR.items():
        if generator not in paths.SOURCES:
            continue
        ids = read_csv(paths.features_file(test_set, "ids.csv"))
        pixels = np.load(paths.features_file(test_set, "pixels.npy"), mmap_mode="r")
        fakes = [index for index, row in enumerate(ids) if row["label"] == "1" and row["generator"] == generator]
        reals = [index for index, row in enumerate(ids) if row["label"] == "0"] if test_set == "test" else []
        for rows, source in ((reals, "real"), (fakes, generator)):
            parts.append(np.asarray(pixels[rows]))
            labels.append(np.full(len(rows), paths.SOURCES.index(source)))
    return np.concatenate(parts), np.concatenate(labels)


def confusion(labels: np.ndarray, named: np.ndarray) -> list[list[int]]:
    """Image counts: row = true source, column = the source named, both in paths.SOURCES order."""
    counts = np.zeros((len(paths.SOURCES), len(paths.SOURCES)), np.int64)
    np.add.at(counts, (labels, named), 1)
    return counts.tolist()


def interval_dict(interval: BootstrapInterval) -> dict:
    """An interval of one model's seed-mean figure: its value and bounds (no difference: nothing is subtracted)."""
    found = interval.to_dict()
    return {"mean": found.pop("difference"), **found}


def model_results(name: str, params: Params, framed: np.ndarray, labels: np.ndarray) -> tuple[dict, np.ndarray]:
    """One attributor's figures (per seed, seed mean with intervals, confusion matrices) and its right calls per
    seed and image (seeds, images), for the comparison."""
    seeds = trained_seeds(name, params.attribute.seeds)
    named = {}
    for seed in seeds:
        scorer = Detector.load(paths.attributor_seed_model(name, seed))
        named[seed] = scorer.predict_sources_framed(framed, params.evaluate.batch_size).argmax(axis=1)
    ensemble = Detector.load(paths.attributor_model(name)).predict_sources_framed(framed, params.evaluate.batch_size)
    correct = np.stack([named[seed] == labels for seed in seeds]).astype(np.float64)
    bootstrap = {"seed": params.seed, "resamples": params.evaluate.bootstrap_resamples}
    per_source = {}
    for index, source in enumerate(paths.SOURCES):
        rows = labels == index
        per_source[source] = interval_dict(
            bootstrap_image_means(correct[:, rows], None, labels[rows], metric="accuracy", **bootstrap)
        )
    results = {
        "seeds": {
            str(seed): {
                "accuracy": round(float(correct[i].mean()), DIGITS),
                "per_source": {
                    s: round(float(correct[i][labels == k].mean()), DIGITS) for k, s in enumerate(paths.SOURCES)
                },
                "confusion": confusion(labels, named[seed]),
            }
            for i, seed in enumerate(seeds)
        },
        "accuracy": interval_dict(bootstrap_image_means(correct, None, labels, metric="accuracy", **bootstrap)),
        "per_source": per_source,
        "ensemble": {
            "accuracy": round(float(np.mean(ensemble.argmax(axis=1) == labels)), DIGITS),
            "confusion": confusion(labels, ensemble.argmax(axis=1)),
        },
    }
    return results, correct


def headline(detail: dict) -> dict:
    """The DVC metrics: per model the seed-mean accuracy with its interval and per source; custom - paper."""
    metrics = {}
    for name, found in detail["models"].items():
        accuracy = found["accuracy"]
        metrics[name] = {
            "accuracy": accuracy["mean"],
            "accuracy_low": accuracy["low"],
            "accuracy_high": accuracy["high"],
            "per_source": {source: figures["mean"] for source, figures in found["per_source"].items()},
        }
    if "comparison" in detail:
        compared = detail["comparison"]
        metrics["custom_minus_paper"] = {key: compared[key] for key in ("difference", "low", "high")}
    return metrics


def main(argv: list[str] | None = None) -> None:
    """Run the stage: score every attributor and write the metrics and the detail."""
    parser = argparse.ArgumentParser(prog="gandct evaluate_attribution", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    setup_logging()
    params = load_params()
    framed, labels = test_images()
    detail: dict = {
        "classes": list(paths.SOURCES),
        "test_images": {source: int(np.sum(labels == k)) for k, source in enumerate(paths.SOURCES)},
        "models": {},
    }
    correct = {}
    for name in params.attribute.models:
        detail["models"][name], correct[name] = model_results(name, params, framed, labels)
        log.info("%s: attribution accuracy %.4f (seed mean)", name, detail["models"][name]["accuracy"]["mean"])
    if all(name in correct for name in CLAIM):
        detail["comparison"] = bootstrap_image_means(
            *(correct[name] for name in CLAIM),
            labels,
            metric="accuracy",
            seed=params.seed,
            resamples=params.evaluate.bootstrap_resamples,
        ).to_dict()
    write_text(paths.ATTRIBUTION_DETAIL, json.dumps(detail, indent=2) + "\n")
    write_text(paths.ATTRIBUTION_METRICS, json.dumps(headline(detail), indent=2) + "\n")


if __name__ == "__main__":
    run_command("evaluate_attribution", main)
