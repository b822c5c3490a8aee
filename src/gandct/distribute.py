"""Where a detector trains: one process, several GPUs of one machine, or several machines (`train.strategy`).

`multiworker` runs `tf.distribute.MultiWorkerMirroredStrategy`, configured from the standard `TF_CONFIG`
environment variable: the same `gandct train <model>` command runs on every host, each worker reads its own
shard of the cached arrays, and the gradients of a global batch of `batch_size` are summed over all workers.
Only the chief (task `chief`, or `worker` 0 when the cluster has no chief) writes outputs; the other workers
run in a temporary folder that they delete.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import keras
import tensorflow as tf

from gandct import paths
from gandct.errors import GandctError

log = logging.getLogger(__name__)


@functools.cache
def strategy(name: str) -> tf.distribute.Strategy:
    """The strategy `train.strategy` names, made once per process.

    A MultiWorkerMirroredStrategy must exist before any other TensorFlow op runs, so the train stage makes
    it first thing; it joins the cluster that `TF_CONFIG` describes (without `TF_CONFIG`, a cluster of one).
    """
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        cluster = cluster_config()
        workers = sum(len(cluster.get("cluster", {}).get(role, [])) for role in ("chief", "worker"))
        task = cluster.get("task", {})
        log.info("multiworker: %s %s of %d workers", task.get("type", "worker"), task.get("index", 0), workers or 1)
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def cluster_config() -> dict:
    """TF_CONFIG as a mapping ({} when unset); malformed JSON is a GandctError naming the variable."""
    text = os.environ.get("TF_CONFIG", "")
    if not text:
        return {}
    try:
        config = json.loads(text)
    except json.JSONDecodeError as err:
        raise GandctError(f"TF_CONFIG is not valid JSON ({err}); see docs/scaling.md, 'Scaling out'") from None
    if not isinstance(config, dict) or not isinstance(config.get("cluster", {}), dict):
        raise GandctError('TF_CONFIG must be {"cluster": {"worker": [...]}, "task": {"type": ..., "index": ...}}')
    return config


def is_multi_worker(current: tf.distribute.Strategy) -> bool:
    """True for a MultiWorkerMirroredStrategy (of any number of workers)."""
    return isinstance(current, tf.distribute.MultiWorkerMirroredStrategy)


def is_chief(current: tf.distribute.Strategy) -> bool:
    """Whether this process writes the outputs: always, except on the non-chief workers of a cluster."""
    resolver = getattr(current, "cluster_resolver", None) if is_multi_worker(current) else None
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


@contextmanager
def outputs_of(current: tf.distribute.Strategy) -> Iterator[None]:
    """Run the block where this process's outputs belong: the project root for the chief; for any other
    worker a temporary project root, deleted afterwards, that links the project's `data/`.

    Every stage reads and writes paths relative to the project root (as DVC runs it), so the other workers
    run the very same code and write the very same files, only where nobody reads them.
    """
    if is_chief(current):
        yield
        return
    project = Path.cwd()
    scratch = Path(tempfile.mkdtemp(prefix="gandct-worker-"))
    try:
        (scratch / paths.DATA).symlink_to(project / paths.DATA, target_is_directory=True)
        os.chdir(scratch)
        yield
    finally:
        os.chdir(project)
        shutil.rmtree(scratch, ignore_errors=True)


def fit(
    model: keras.Model,
    current: tf.distribute.Strategy,
    train: Callable[..., tf.data.Dataset],
    validation: Callable[..., tf.data.Dataset],
    batch_size: int,
    epochs: int,
    callbacks: list[keras.callbacks.Callback],
) -> dict[str, list[float]]:
    """Train a compiled `model` like `model.fit` and return its history; `train` and `validation` make
    the batches: `train(batch_size=, shards=, shard_index=)`.

    On a cluster each worker builds only its shard of the rows, in batches of its share of the global
    `batch_size`, so a global step sees the same rows as one process would. Keras 3's `fit` cannot run a
    MultiWorkerMirroredStrategy (keras-team/keras#20585: it averages scalar metrics over a batch axis), so
    there this loop runs the model's own `train_step` and `test_step` on every worker and reads the epoch's
    metrics summed over all workers, which every worker's callbacks (early stopping) then see alike.
    """
    if not is_multi_worker(current):
        return model.fit(
            train(batch_size=batch_size, shards=1, shard_index=0),
            validation_data=validation(batch_size=batch_size, shards=1, shard_index=0),
            epochs=epochs,
            shuffle=False,  # the dataset shuffles itself, with the seed
            callbacks=callbacks,
            verbose=2,
        ).history
    replicas = current.num_replicas_in_sync
    if batch_size % replicas:
        raise GandctError(f"the batch size {batch_size} is not a multiple of the {replicas} workers in TF_CONFIG")

    def shards(build: Callable[..., tf.data.Dataset]) -> tf.distribute.DistributedDatasetsFromFunction:
        def per_worker(context: tf.distribute.InputContext) -> tf.data.Dataset:
            return build(
                batch_size=context.get_per_replica_batch_size(batch_size),
                shards=context.num_input_pipelines,
                shard_index=context.input_pipeline_id,
            )

        return current.distribute_datasets_from_function(per_worker)

    train_steps, val_steps = shards(train), shards(validation)
    train_step = tf.function(lambda batch: current.run(model.train_step, args=(batch,)))
    test_step = tf.function(lambda batch: current.run(model.test_step, args=(batch,)))
    callback_list = keras.callbacks.CallbackList(callbacks, add_history=True, model=model)
    model.stop_training = False
    with current.scope():  # metrics read here are summed over the workers
        callback_list.on_train_begin()
        for epoch in range(epochs):
            callback_list.on_epoch_begin(epoch)
            model.reset_metrics()
            for batch in train_steps:
                train_step(batch)
            logs = model.get_metrics_result()
            model.reset_metrics()
            for batch in val_steps:
                test_step(batch)
            logs |= {f"val_{name}": value for name, value in model.get_metrics_result().items()}
            log.info("epoch %d/%d: %s", epoch + 1, epochs, ", ".join(f"{k} {v:.4f}" for k, v in logs.items()))
            callback_list.on_epoch_end(epoch, logs)
            if model.stop_training:
                break
        callback_list.on_train_end()
    return model.history.history
