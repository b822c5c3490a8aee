"""Fitting one model: Adam with early stopping for the Keras detectors, one go for the baselines (a logistic
regression, a neighbour vote), on the cached features of the whole train split or of a subset of it. The train
stage fits every seed on the whole split; the data-efficiency command fits on subsets. The same code fits an
attributor (`ATTRIBUTION`: one logit per source, on the attribution sets) for the train_attribution stage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from dvclive import Live
from dvclive.keras import DVCLiveCallback
from sklearn.linear_model import LogisticRegression

from gandct import distribute, paths
from gandct.datasets import batches, load_split
from gandct.dct import DctStats, Preprocessing, cached_inputs, dct_features, scale_pixels
from gandct.detector_names import DCT, PIXELS
from gandct.models import (
    MODELS,
    logistic_regression,
    logit_model,
    nearest_neighbours,
    probabilities,
    source_probabilities,
)
from gandct.params import (
    KerasTrainParams,
    LinearTrainParams,
    NeighboursTrainParams,
    Params,
    TrainPerturbParams,
)
from gandct.perturbations import perturb_randomly

SCORE_BATCH = 256  # images scored at a time


@dataclass(frozen=True)
class Task:
    """What a model learns, from which cached feature sets and statistics: real or fake (one logit), or which
    source made the image (one logit per source; the sets' labels are the source indices)."""

    train_set: str
    val_set: str
    classes: int

    @property
    def stats(self) -> Path:
        """The train set's statistics of the log spectra, which z-score the model's inputs."""
        return paths.processed_split(self.train_set) / paths.DCT_STATS.name


DETECTION = Task("train", "val", 1)
ATTRIBUTION = Task("attribution_train", "attribution_val", len(paths.SOURCES))


def perturbed_inputs(kind: str, stats: DctStats, settings: TrainPerturbParams, seed: int) -> Callable:
    """Model inputs of perturbed copies of framed uint8 rows (`train.<model>.perturb`), drawn afresh at every
    call from a generator seeded with `seed`: the batches come in a fixed order, so a seed gives one run."""
    rng = np.random.default_rng(seed)

    def inputs(rows: np.ndarray) -> np.ndarray:
        perturbed = perturb_randomly(np.asarray(rows), settings.ranges(), settings.share, rng)
        return dct_features(perturbed, stats) if kind == DCT else scale_pixels(perturbed)

    return inputs


def train_rows(task: Task, kind: str, subset: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The train set's cached rows of `kind` and labels, or only the rows `subset` indexes."""
    x, y = load_split(task.train_set, kind)
    return (x, y) if subset is None else (np.asarray(x[subset]), np.asarray(y[subset]))


def train_keras(
    name: str,
    settings: KerasTrainParams,
    params: Params,
    stats: DctStats,
    seed: int,
    live: Live | None,
    subset: np.ndarray | None,
    task: Task,
) -> tuple[keras.Model, dict]:
    """Train a Keras model with Adam and early stopping on val loss (on the val images as they are); return
    it and its history."""
    spec = MODELS[name]
    x_val, y_val = load_split(task.val_set, spec.features)
    inputs = partial(cached_inputs, kind=spec.features, stats=stats)
    if settings.perturb is None:
        (x_train, y_train), train_inputs = train_rows(task, spec.features, subset), inputs
    else:  # perturb the framed images, then transform them as every scorer does
        x_train, y_train = train_rows(task, PIXELS, subset)
        train_inputs = perturbed_inputs(spec.features, stats, settings.perturb, seed)
    strategy = distribute.strategy(params.train.strategy)
    with strategy.scope():
        extra = settings.model_dump(exclude=set(KerasTrainParams.model_fields))
        if task.classes > 1:
            extra["classes"] = task.classes
        model = spec.builder(x_train.shape[1:], name=name, **extra)
        binary = task.classes == 1
        model.compile(
            optimizer=keras.optimizers.Adam(settings.learning_rate),
            loss="binary_crossentropy" if binary else "sparse_categorical_crossentropy",
            metrics=["accuracy", keras.metrics.AUC(name="auc")] if binary else ["accuracy"],
        )
    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=settings.patience, restore_best_weights=True),
        *([DVCLiveCallback(live=live)] if live else []),
    ]
    train_batches = partial(batches, x_train, y_train, inputs=train_inputs, shuffle=True, seed=seed)  # reshuffled
    val_batches = partial(batches, x_val, y_val, inputs=inputs)
    history = distribute.fit(
        model, strategy, train_batches, val_batches, settings.batch_size, settings.epochs, callbacks
    )
    return model, history


def fitted_inputs(task: Task, name: str, stats: DctStats, subset: np.ndarray | None) -> tuple[tuple, tuple]:
    """(inputs, labels) of the train set (or its rows `subset`) and of the val set, whole in memory, for a model
    fitted in one go."""
    kind = MODELS[name].features
    (rows, y_train), (val_rows, y_val) = train_rows(task, kind, subset), load_split(task.val_set, kind)
    x_train, x_val = (cached_inputs(np.asarray(part), kind, stats) for part in (rows, val_rows))
    return (x_train, np.asarray(y_train)), (x_val, np.asarray(y_val))


def train_logistic(
    name: str, settings: LinearTrainParams, stats: DctStats, live: Live | None, subset: np.ndarray | None, task: Task
) -> tuple[keras.Model, dict]:
    """Fit an L2-regularised logistic regression on the model's flattened inputs (`linear`: z-scored DCT
    maps; `durall`: radial profiles), multinomial for attribution; wrap it as a Keras model."""
    (x_train, y_train), val = fitted_inputs(task, name, stats, subset)
    # lbfgs draws nothing at random: the fit is the same for every seed, so it runs once (detector_names.SEEDLESS).
    classifier = LogisticRegression(C=settings.l2_inverse, max_iter=settings.max_iter)
    classifier.fit(np.asarray(x_train).reshape(len(x_train), -1), y_train)
    model = logistic_regression(x_train.shape[1:], classifier.coef_.T, classifier.intercept_, name)
    return model, one_step_history(model, (x_train, y_train), val, live)


def train_neighbours(
    name: str,
    settings: NeighboursTrainParams,
    stats: DctStats,
    live: Live | None,
    subset: np.ndarray | None,
    task: Task,
) -> tuple[keras.Model, dict]:
    """Store the train images' power-law features for a k-nearest-neighbour vote (`dzanic`), as a Keras model."""
    (x_train, y_train), (x_val, y_val) = fitted_inputs(task, name, stats, subset)
    model = nearest_neighbours(x_train, np.asarray(y_train), settings.neighbours, name)
    return model, one_step_history(model, (x_train, y_train), (x_val, y_val), live)


def one_step_history(model: keras.Model, train: tuple, val: tuple, live: Live | None) -> dict:
    """Loss and accuracy (at 0.5) of a model fitted in one go, on train and val, as a one-epoch history; logged in
    the same dvclive layout as the CNNs' epochs, so dvc plots and the report treat every model alike."""
    history = {}
    for prefix, (x, y) in (("", train), ("val_", val)):
        logits = logit_model(model).predict(np.asarray(x), batch_size=SCORE_BATCH, verbose=0)
        history[f"{prefix}loss"], history[f"{prefix}accuracy"] = [[value] for value in loss_and_accuracy(logits, y)]
    for split, prefix in (("train", ""), ("eval", "val_")):
        for metric in ("loss", "accuracy"):
            if live:
                live.log_metric(f"{split}/{metric}", history[prefix + metric][0])
    return history


def loss_and_accuracy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Cross-entropy and accuracy of a model's logits (N, 1: p_fake at 0.5; N, classes: the likeliest source)."""
    if logits.shape[1] == 1:
        p_fake, truth = probabilities(logits[:, 0]), np.asarray(labels, np.float64)
        return float(keras.losses.binary_crossentropy(truth, p_fake).numpy()), float(np.mean((p_fake >= 0.5) == truth))
    p_source, truth = source_probabilities(logits), np.asarray(labels).astype(np.int64)
    chosen = p_source[np.arange(len(truth)), truth]
    return float(-np.mean(np.log(np.maximum(chosen, 1e-12)))), float(np.mean(p_source.argmax(axis=1) == truth))


def kept_epoch(history: dict) -> dict:
    """Epochs run, and the epoch with the lowest val loss (the weights early stopping keeps) with its val loss and
    accuracy: a fit's deterministic figures."""
    best = int(np.argmin(history["val_loss"]))
    return {
        "epochs_run": len(history["val_loss"]),
        "best_epoch": best + 1,
        "val_loss": round(float(history["val_loss"][best]), 6),
        "val_accuracy": round(float(history["val_accuracy"][best]), 6),
    }


# The detectors fitted in one go (detector_names.SEEDLESS); the others train with Adam (train_keras).
FITTERS = {"linear": train_logistic, "durall": train_logistic, "dzanic": train_neighbours}


def fit(
    name: str,
    params: Params,
    seed: int,
    live: Live | None = None,
    subset: np.ndarray | None = None,
    task: Task = DETECTION,
) -> tuple[keras.Model, dict]:
    """Train model `name` for `task` from the state `seed` sets, on inputs z-scored with the train statistics, on
    the whole train set or the rows `subset` indexes; its curves go to `live` when given. The same params, seed
    and subset give the same weights, whatever was trained before in the process."""
    stats = DctStats.load(task.stats)
    stats.check_matches(Preprocessing.from_params(params.features))
    keras.backend.clear_session()  # fresh layer names and state: a seed's model does not depend on the seeds before
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    settings = getattr(params.train, name)
    if name in FITTERS:
        return FITTERS[name](name, settings, stats, live, subset, task)
    return train_keras(name, settings, params, stats, seed, live, subset, task)
