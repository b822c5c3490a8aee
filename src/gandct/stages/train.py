"""train stage: fit one detector once per seed of `train.seeds`, `gandct train <model>`, on the cached features.

Writes each seed's model `models/detectors/<model>/seed_<s>.keras`, with beside it the train statistics it
reads its inputs with (`.dct_stats.npz`) and the threshold chosen on the val split (`.threshold.json`); then
the seed ensemble of every seed (`models.seed_ensemble`: the sigmoid of the seeds' mean logit), with its own
val threshold and both files, to `models/detectors/<model>.keras`, the model users score with. Also the
curves of every seed (dvclive, `reports/train/<model>/plots/seed_<s>/`), the training figures per seed, the
seed with the lowest val loss and the ensemble's figures (`summary.json`), the seconds per seed
(`timing.json`) and a PNG of the curves (`reports/figures/train_<model>.png`).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
import time
from functools import partial
from pathlib import Path

import keras
import numpy as np
from dvclive import Live

from gandct import distribute, paths
from gandct.comparison import choose_threshold, detection_metrics
from gandct.datasets import batches, load_split
from gandct.dct import DctStats, cached_inputs, input_shape
from gandct.detector_names import SEEDLESS, trained_seeds
from gandct.entry import run_command
from gandct.figures import plot_coefficient_weights, plot_neighbour_points, plot_profile_weights, plot_training_curves
from gandct.fileio import atomic_dir, atomic_path, write_text
from gandct.fitting import SCORE_BATCH, fit, kept_epoch
from gandct.keras_io import save_model
from gandct.logs import setup_logging
from gandct.models import MODELS, NearestNeighboursVote, logit_model, probabilities, seed_ensemble
from gandct.params import Params, load_params

log = logging.getLogger(__name__)


def val_threshold(name: str, model: keras.Model) -> dict[str, float]:
    """The threshold that maximises balanced accuracy on the val split's cached inputs (what val loss is computed
    on), with the val accuracy and balanced accuracy at it."""
    kind, stats = MODELS[name].features, DctStats.load(paths.DCT_STATS)
    x_val, y_val = load_split("val", kind)
    inputs = partial(cached_inputs, kind=kind, stats=stats)
    shape = input_shape(kind, stats.preprocessing)
    logits = logit_model(model).predict(batches(x_val, y_val, SCORE_BATCH, inputs, input_shape=shape), verbose=0)[:, 0]
    p_fake = probabilities(logits)  # as every scorer computes it (`Detector.predict_framed`)
    labels = np.asarray(y_val).astype(np.int64)
    threshold = choose_threshold(labels, p_fake)
    at_threshold = detection_metrics(labels, p_fake, threshold)
    return {
        "threshold": threshold,
        "val_accuracy": at_threshold["accuracy"],
        "val_balanced_accuracy": at_threshold["balanced_accuracy"],
    }


def seed_figures(history: dict, threshold: dict[str, float]) -> dict:
    """The deterministic training figures of one seed: epochs, the best epoch's val loss and accuracy (at 0.5),
    and the val-chosen threshold with the val accuracy and balanced accuracy at it."""
    return {
        **kept_epoch(history),
        "threshold": threshold["threshold"],
        "val_accuracy_at_threshold": threshold["val_accuracy"],
        "val_balanced_accuracy_at_threshold": threshold["val_balanced_accuracy"],
    }


def save_with_threshold(model: keras.Model, model_path: Path, threshold: dict[str, float]) -> None:
    """Write one model with its statistics and its threshold beside it."""
    save_model(model, model_path)  # unchanged weights keep the old file, so evaluate and report need not re-run
    # The statistics travel with the model, so no scorer can pair it with another run's preprocessing.
    with atomic_path(paths.model_stats(model_path)) as tmp:
        shutil.copyfile(paths.DCT_STATS, tmp)
    record = {**threshold, "chosen_on": "val split: the cut with the highest balanced accuracy"}
    write_text(paths.model_threshold(model_path), json.dumps(record, indent=2) + "\n")


def best_seed(per_seed: dict[int, dict]) -> int:
    """The seed with the lowest val loss; on a tie the first in `train.seeds` order."""
    return min(per_seed, key=lambda seed: per_seed[seed]["val_loss"])


def train_detector(name: str, params: Params) -> dict:
    """Train detector `name` once per seed, write every output, and return the summary."""
    seeds = trained_seeds(name, params.train.seeds)
    per_seed, seconds, histories, trained = {}, {}, {}, {}
    with atomic_dir(paths.train_curves(name)) as curves:
        for seed in seeds:
            log.info("%s: training with seed %d", name, seed)
            started = time.perf_counter()
            # dvclive writes its metrics.json beside the curves: only the curves are kept, as plots data
            with tempfile.TemporaryDirectory(dir=curves) as scratch:
                live = Live(dir=scratch, dvcyaml=None, save_dvc_exp=False)
                trained[seed], histories[seed] = fit(name, params, seed, live)
                live.end()
                shutil.move(Path(scratch) / "plots" / "metrics", curves / f"seed_{seed}")
            threshold = val_threshold(name, trained[seed])
            save_with_threshold(trained[seed], paths.seed_model(name, seed), threshold)
            seconds[seed] = round(time.perf_counter() - started, 1)
            per_seed[seed] = seed_figures(histories[seed], threshold)
            log.info("%s seed %d: val loss %.4f, %.0f s", name, seed, per_seed[seed]["val_loss"], seconds[seed])
    ensemble = seed_ensemble(trained, name)
    ensemble_threshold = val_threshold(name, ensemble)
    save_with_threshold(ensemble, paths.detector_model(name), ensemble_threshold)
    summary = {
        "model": name,
        "features": MODELS[name].features,
        "best_seed": best_seed(per_seed),  # lowest val loss: the report draws its training curves
        "seeds": {str(seed): figures for seed, figures in per_seed.items()},
        "published": {  # the model at paths.detector_model(name), the one users score with
            "kind": "seed ensemble (mean logit)",
            "seeds": seeds,
            "threshold": ensemble_threshold["threshold"],
            "val_accuracy_at_threshold": ensemble_threshold["val_accuracy"],
            "val_balanced_accuracy_at_threshold": ensemble_threshold["val_balanced_accuracy"],
        },
    }
    write_text(paths.train_summary(name), json.dumps(summary, indent=2) + "\n")
    timing = {"train_seconds": {str(seed): value for seed, value in seconds.items()}}
    write_text(paths.train_timing(name), json.dumps(timing, indent=2) + "\n")
    if name in SEEDLESS:  # one fit, no curves: show what it weighs (or the points it votes among) instead
        fitted_figure(trained[seeds[0]], paths.FIGURES / f"train_{name}.png")
    else:
        plot_training_curves({f"seed {seed}": histories[seed] for seed in seeds}, paths.FIGURES / f"train_{name}.png")
    return summary


def fitted_figure(model: keras.Model, path: Path) -> None:
    """A model fitted in one go: its weight per DCT coefficient or per radius, or the points its neighbours vote."""
    logit = model.get_layer("logit")
    if isinstance(logit, NearestNeighboursVote):
        points, labels = logit.get_weights()
        plot_neighbour_points(points, labels, path)
        return
    weights = logit.get_weights()[0].reshape(model.input_shape[1:])
    (plot_profile_weights if weights.ndim == 1 else plot_coefficient_weights)(weights, path)


def main(argv: list[str] | None = None) -> None:
    """Run the stage for one detector: `gandct train <model>`."""
    parser = argparse.ArgumentParser(prog="gandct train", description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=sorted(MODELS), help="which detector to train")
    args = parser.parse_args(argv)
    setup_logging()
    params = load_params()
    strategy = distribute.strategy(params.train.strategy)  # before any other TensorFlow op (multiworker)
    with distribute.outputs_of(strategy):  # on a cluster only the chief's outputs stay
        summary = train_detector(args.model, params)
    published, best = summary["published"], summary["seeds"][str(summary["best_seed"])]
    log.info(
        "%s: %s is the seed ensemble of %d seed(s), val balanced accuracy %.4f at its threshold %.4g; "
        "lowest val loss: seed %d (%.4f)",
        args.model,
        paths.detector_model(args.model),
        len(published["seeds"]),
        published["val_balanced_accuracy_at_threshold"],
        published["threshold"],
        summary["best_seed"],
        best["val_loss"],
    )


if __name__ == "__main__":
    run_command("train", main)
