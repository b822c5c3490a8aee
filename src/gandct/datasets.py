"""The cached feature arrays as memory-mapped numpy arrays and as `tf.data` pipelines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from gandct import paths
from gandct.errors import GandctError


def load_split(split: str, features: str, root: Path = paths.PROCESSED) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, labels) of one split, memory-mapped: `features` is "dct" or "pixels"."""
    x_path, y_path = root / f"{split}_{features}.npy", root / f"{split}_y.npy"
    for path in (x_path, y_path):
        if not path.is_file():
            raise GandctError(f"{path} not found; run the features stage first (make features)")
    return np.load(x_path, mmap_mode="r"), np.load(y_path, mmap_mode="r")


def batches(x: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool = False, seed: int = 0) -> tf.data.Dataset:
    """Batches of (inputs, labels) read from (memory-mapped) arrays a batch at a time.

    Only the indices are shuffled, with `seed`, in a new order each epoch; the arrays never have to fit
    in memory.
    """
    count = len(y)
    indices = tf.data.Dataset.range(count)
    if shuffle:
        indices = indices.shuffle(count, seed=seed, reshuffle_each_iteration=True)

    def take(batch_indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = np.sort(batch_indices)  # sorted reads are sequential on the memory map
        return np.asarray(x[rows], np.float32), np.asarray(y[rows], np.float32)

    def load(batch_indices: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        inputs, labels = tf.numpy_function(take, [batch_indices], (tf.float32, tf.float32))
        inputs.set_shape((None, *x.shape[1:]))
        labels.set_shape((None,))
        return inputs, labels

    return indices.batch(batch_size).map(load).prefetch(tf.data.AUTOTUNE)
