"""train stage: fit one detector, `gandct train <model>`, on the cached features.

Writes `models/detectors/<model>.keras` and beside it the train statistics it reads its inputs with
(`<model>.dct_stats.npz`), the training curves (dvclive) under `reports/train/<model>/`, a PNG of
them in `reports/figures/train_<model>.png`, and `reports/metrics/<model>_train.json`.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import time
from functools import partial

import keras
import numpy as np
import tensorflow as tf
from dvclive import Live
from dvclive.keras import DVCLiveCallback
from sklearn.linear_model import LogisticRegression

from gandct import distribute, paths
from gandct.cli import run_command
from gandct.datasets import batches, load_split
from gandct.dct import DctStats, Preprocessing, cached_inputs
from gandct.detector_names import DCT
from gandct.figures import plot_coefficient_weights, plot_training_curves
from gandct.fileio import atomic_path, write_text
from gandct.keras_io import save_model
from gandct.logs import setup_logging
from gandct.models import MODELS, logistic_regression
from gandct.params import KerasTrainParams, LinearTrainParams, Params, load_params

log = logging.getLogger(__name__)


def train_keras(name: str, settings: KerasTrainParams, params: Params, stats: DctStats) -> tuple[keras.Model, dict]:
    """Train a Keras detector with Adam and early stopping on val loss; return it and its history."""
    spec = MODELS[name]
    x_train, y_train = load_split("train", spec.features)
    x_val, y_val = load_split("val", spec.features)
    inputs = partial(cached_inputs, kind=spec.features, stats=stats)
    strategy = distribute.strategy(params.train.strategy)
    with strategy.scope():
        extra = settings.model_dump(exclude=set(KerasTrainParams.model_fields))
        model = spec.builder(x_train.shape[1:], name=name, **extra)
        model.compile(
            optimizer=keras.optimizers.Adam(settings.learning_rate),
            loss="binary_crossentropy",
            metrics=["accuracy", keras.metrics.AUC(name="auc")],
        )
    live = Live(dir=str(paths.REPORTS / "train" / name), dvcyaml=None, save_dvc_exp=False)
    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=settings.patience, restore_best_weights=True),
        DVCLiveCallback(live=live),
    ]
    train_batches = partial(batches, x_train, y_train, inputs=inputs, shuffle=True, seed=params.seed)  # reshuffled
    val_batches = partial(batches, x_val, y_val, inputs=inputs)
    history = distribute.fit(
        model, strategy, train_batches, val_batches, settings.batch_size, settings.epochs, callbacks
    )
    live.end()
    return model, history


def train_linear(settings: LinearTrainParams, params: Params, stats: DctStats) -> tuple[keras.Model, dict]:
    """Fit the L2-regularised logistic regression on flattened z-scored DCT maps; wrap it as a Keras model."""
    (train_rows, y_train), (val_rows, y_val) = load_split("train", DCT), load_split("val", DCT)
    x_train, x_val = stats.normalize(np.asarray(train_rows)), stats.normalize(np.asarray(val_rows))
    classifier = LogisticRegression(C=settings.l2_inverse, max_iter=settings.max_iter, random_state=params.seed)
    classifier.fit(np.asarray(x_train).reshape(len(x_train), -1), np.asarray(y_train))
    model = logistic_regression(x_train.shape[1:], classifier.coef_[0], float(classifier.intercept_[0]))
    history = {}
    for prefix, x, y in (("", x_train, y_train), ("val_", x_val, y_val)):
        p_fake = classifier.predict_proba(np.asarray(x).reshape(len(x), -1))[:, 1]
        history[f"{prefix}loss"] = [float(keras.losses.binary_crossentropy(np.asarray(y), p_fake).numpy())]
        history[f"{prefix}accuracy"] = [float(np.mean((p_fake >= 0.5) == np.asarray(y)))]
    # One step in the same dvclive layout as the CNNs, so dvc plots and the report treat every model alike.
    with Live(dir=str(paths.REPORTS / "train" / "linear"), dvcyaml=None, save_dvc_exp=False) as live:
        for split, prefix in (("train", ""), ("eval", "val_")):
            for metric in ("loss", "accuracy"):
                live.log_metric(f"{split}/{metric}", history[prefix + metric][0])
    return model, history


def summary(name: str, history: dict) -> dict:
    """The deterministic training figures `reports/metrics/<model>_train.json` records."""
    best = int(np.argmin(history["val_loss"]))
    return {
        "model": name,
        "features": MODELS[name].features,
        "epochs_run": len(history["val_loss"]),
        "best_epoch": best + 1,
        "val_loss": round(float(history["val_loss"][best]), 6),
        "val_accuracy": round(float(history["val_accuracy"][best]), 6),
    }


def fit(name: str, params: Params) -> tuple[keras.Model, dict]:
    """Train detector `name` from seeded state, on inputs z-scored with the train statistics; the same
    params give the same weights."""
    stats = DctStats.load(paths.DCT_STATS)
    stats.check_matches(Preprocessing.from_params(params.features))
    keras.utils.set_random_seed(params.seed)
    tf.config.experimental.enable_op_determinism()
    settings = getattr(params.train, name)
    if name == "linear":
        return train_linear(settings, params, stats)
    return train_keras(name, settings, params, stats)


def save_outputs(name: str, model: keras.Model, history: dict, seconds: float) -> dict:
    """Write the model, the training summary, the timing and the curves PNG; return the summary."""
    model_path = paths.detector_model(name)
    save_model(model, model_path)  # unchanged weights keep the old file, so evaluate and report need not re-run
    # The statistics travel with the model, so no scorer can pair it with another run's preprocessing.
    with atomic_path(paths.model_stats(model_path)) as tmp:
        shutil.copyfile(paths.DCT_STATS, tmp)
    figures = summary(name, history)
    write_text(paths.REPORTS / "metrics" / f"{name}_train.json", json.dumps(figures, indent=2) + "\n")
    timing = {"train_seconds": round(seconds, 1), "epochs_run": figures["epochs_run"]}
    write_text(paths.REPORTS / "train" / name / "timing.json", json.dumps(timing, indent=2) + "\n")
    if name == "linear":  # one fit, no curves: show which coefficients it weighs instead
        weights = model.get_layer("p_fake").get_weights()[0].reshape(model.input_shape[1:])
        plot_coefficient_weights(weights, paths.FIGURES / f"train_{name}.png")
    else:
        plot_training_curves({name: history}, paths.FIGURES / f"train_{name}.png")
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="gandct train", description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=sorted(MODELS), help="which detector to train")
    args = parser.parse_args(argv)
    setup_logging()
    params = load_params()
    strategy = distribute.strategy(params.train.strategy)  # before any other TensorFlow op (multiworker)
    started = time.perf_counter()
    with distribute.outputs_of(strategy):  # on a cluster only the chief's outputs stay
        model, history = fit(args.model, params)
        seconds = time.perf_counter() - started
        figures = save_outputs(args.model, model, history, seconds)
    accuracy, epochs = figures["val_accuracy"], figures["epochs_run"]
    log.info("%s: val accuracy %.4f, %d epochs, %.0f s", args.model, accuracy, epochs, seconds)


if __name__ == "__main__":
    run_command("train", main)
