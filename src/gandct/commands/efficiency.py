"""efficiency: test accuracy and ROC AUC against the training images per class (opt-in, `make efficiency`).

Durall et al. 2020 report 100% accuracy with 20 training images, Dzanic et al. 2020 up to 99.2% with 8 per
class. This fits each detector on `size` train images of each class, drawn at random (`--draws` draws, each
with its own seed, which also seeds the training; one fit of the whole split for `all`), and scores the test
split (the ProGAN's, evaluate's `test`): ROC AUC, and accuracy at the threshold chosen on the whole val split.
Reads the cached features (`dvc repro features test_features`) and params.yaml's detector settings. Writes
`reports/efficiency/efficiency.json` (every draw's figures) and `reports/figures/data_efficiency.png`.
"""

from __future__ import annotations

import argparse
import json
import logging

import numpy as np

from gandct import paths
from gandct.comparison import choose_threshold, detection_metrics
from gandct.datasets import load_split
from gandct.dct import DctStats, cached_inputs
from gandct.entry import run_command
from gandct.figures import plot_data_efficiency
from gandct.fileio import write_text
from gandct.fitting import SCORE_BATCH, fit
from gandct.logs import setup_logging
from gandct.models import MODELS, logit_model, probabilities
from gandct.params import load_params

log = logging.getLogger(__name__)

EFFICIENCY = paths.REPORTS / "efficiency" / "efficiency.json"
FIGURE = paths.FIGURES / "data_efficiency.png"
ALL = "all"  # the whole train split
# (images per class, accuracy) each paper claims for its own data: drawn beside our points
CLAIMS = {"durall": (20, 1.0), "dzanic": (8, 0.992)}


def draw_subset(labels: np.ndarray, size: int, seed: list[int]) -> np.ndarray:
    """Sorted indices of `size` rows of each class (0 and 1), drawn without replacement with `seed`."""
    rng = np.random.default_rng(seed)
    chosen = []
    for label in (0, 1):
        rows = np.flatnonzero(labels == label)
        if size > len(rows):
            raise ValueError(f"{size} images per class asked, the train split has {len(rows)} of class {label}")
        chosen.append(rng.choice(rows, size, replace=False))
    return np.sort(np.concatenate(chosen))


def scores(model: object, split: str, kind: str, stats: DctStats) -> tuple[np.ndarray, np.ndarray]:
    """(labels, p_fake) of a split's cached rows, as every scorer computes p_fake."""
    rows, labels = load_split(split, kind)
    inputs = cached_inputs(np.asarray(rows), kind, stats)
    logits = logit_model(model).predict(inputs, batch_size=SCORE_BATCH, verbose=0)[:, 0]
    return np.asarray(labels).astype(np.int64), probabilities(logits)


def measure(name: str, size: int | str, draw: int, params: object, stats: DctStats) -> dict[str, float]:
    """Fit detector `name` on one draw of `size` images per class (or all) and score it on the test split."""
    kind = MODELS[name].features
    _, train_labels = load_split("train", kind)
    subset = None if size == ALL else draw_subset(np.asarray(train_labels), size, [params.seed, size, draw])
    model, _ = fit(name, params, draw, subset=subset)
    threshold = choose_threshold(*scores(model, "val", kind, stats))
    figures = detection_metrics(*scores(model, "test", kind, stats), threshold)
    return {"draw": draw, "accuracy": figures["accuracy"], "roc_auc": figures["roc_auc"]}


def main(argv: list[str] | None = None) -> None:
    """Fit each detector on growing subsets of the train split and write the data-efficiency record."""
    parser = argparse.ArgumentParser(prog="gandct efficiency", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 20, 50, 200], help="images per class")
    parser.add_argument("--draws", type=int, default=5, help="draws per size below 200 (3 from 200 on)")
    parser.add_argument("--models", nargs="+", default=["linear", "durall", "dzanic", "paper", "custom"])
    parser.add_argument("--no-all", action="store_true", help="skip the fit on the whole train split")
    args = parser.parse_args(argv)
    if min(args.sizes) < 1 or args.draws < 1:
        parser.error("--sizes and --draws must be at least 1")
    unknown = sorted(set(args.models) - set(MODELS))
    if unknown:
        parser.error(f"--models: unknown {', '.join(unknown)}; choose from {', '.join(sorted(MODELS))}")
    setup_logging()
    params = load_params()
    stats = DctStats.load(paths.DCT_STATS)
    sizes = [*sorted(args.sizes), *([] if args.no_all else [ALL])]
    results: dict[str, dict[str, list[dict]]] = {}
    for name in args.models:
        results[name] = {}
        for size in sizes:
            draws = 1 if size == ALL else (args.draws if size < 200 else min(args.draws, 3))
            results[name][str(size)] = [measure(name, size, draw, params, stats) for draw in range(draws)]
            mean = np.mean([entry["accuracy"] for entry in results[name][str(size)]])
            log.info("%s, %s per class: test accuracy %.3f (mean of %d)", name, size, mean, draws)
    train_sizes = {str(size): size for size in sizes if size != ALL}
    if ALL in sizes:
        _, labels = load_split("train", "pixels")
        train_sizes[ALL] = int(min(np.bincount(np.asarray(labels).astype(np.int64))))
    record = {"images_per_class": train_sizes, "test_set": "test", "detectors": results, "claims": CLAIMS}
    write_text(EFFICIENCY, json.dumps(record, indent=2) + "\n")
    plot_data_efficiency(results, train_sizes, CLAIMS, FIGURE)
    log.info("wrote %s and %s", EFFICIENCY, FIGURE)


if __name__ == "__main__":
    run_command("efficiency", main)
