"""The cached feature arrays as memory-mapped numpy arrays and as `tf.data` pipelines of model inputs."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from gandct import paths
from gandct.detector_names import DCT
from gandct.errors import GandctError


def load_split(split: str, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(cached rows, labels) of one split, memory-mapped: for `kind` "dct" the log spectra (float32), for
    "pixels" the framed images (uint8); `dct.cached_inputs` turns rows into a model's inputs."""
    x_path, y_path = (
        paths.features_file(split, "dct.npy" if kind == DCT else "pixels.npy"),
        paths.features_file(split, "y.npy"),
    )
    for path in (x_path, y_path):
        if not path.is_file():
            raise GandctError(f"{path} not found; run the features stage first (dvc repro features@{split})")
    return np.load(x_path, mmap_mode="r"), np.load(y_path, mmap_mode="r")


def batches(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    inputs: Callable[[np.ndarray], np.ndarray],
    shuffle: bool = False,
    seed: int = 0,
    shards: int = 1,
    shard_index: int = 0,
    input_shape: tuple[int, ...] | None = None,
) -> tf.data.Dataset:
    """Batches of (model inputs, labels) read from (memory-mapped) cached rows a batch at a time; `inputs`
    maps a batch of rows to float32 model inputs (e.g. the z-score), of the rows' shape unless `input_shape`
    says otherwise (e.g. a radial profile of an image).

    Only the indices are shuffled, with `seed`, in a new order each epoch; the arrays never have to fit
    in memory. With `shards` > 1 the dataset holds only every `shards`-th index of that order, from
    `shard_index` on: a worker of a cluster reads only its own rows (`gandct.distribute.input_pipeline`).
    """
    count = len(y)
    indices = tf.data.Dataset.range(count)
    if shuffle:
        indices = indices.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    indices = indices.shard(shards, shard_index)

    def take(batch_indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = np.sort(batch_indices)  # sorted reads are sequential on the memory map
        return np.asarray(inputs(x[rows]), np.float32), np.asarray(y[rows], np.float32)

    def load(batch_indices: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        model_inputs, labels = tf.numpy_function(take, [batch_indices], (tf.float32, tf.float32))
        model_inputs.set_shape((None, *(input_shape or x.shape[1:])))
        labels.set_shape((None,))
        return model_inputs, labels

    return indices.batch(batch_size).map(load).prefetch(tf.data.AUTOTUNE)
