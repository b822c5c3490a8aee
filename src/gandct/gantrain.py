"""What the GAN trainers share: resumable checkpoints, the per-step loss log, weight averaging, pixels.

A checkpoint is a folder with `state.json` (counters, timings, the fingerprint) and `arrays.npz`
(weights, optimizer slots, loss rows, sample grids). It is replaced atomically, so a run killed while
saving leaves the previous checkpoint intact. The fingerprint names the exact training problem (the
params that shape training, the seed and the training images): a checkpoint with another fingerprint
is never resumed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from gandct.fileio import atomic_dir, write_text

log = logging.getLogger(__name__)

# Bumped when the checkpoint layout or the meaning of its arrays changes, so old checkpoints are not resumed.
CHECKPOINT_FORMAT = 1
STATE_NAME = "state.json"
ARRAYS_NAME = "arrays.npz"


def fingerprint(settings: dict, image_hashes: Iterable[str]) -> str:
    """SHA-256 of the training settings (any JSON-able mapping) and the sorted hashes of the training images."""
    payload = {"format": CHECKPOINT_FORMAT, "settings": settings, "images": sorted(image_hashes)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class Checkpoint:
    """A resumable training state in `folder`, valid only for runs with the same `fingerprint`."""

    def __init__(self, folder: Path, fingerprint: str) -> None:
        self.folder = Path(folder)
        self.fingerprint = fingerprint

    def save(self, state: dict, arrays: dict[str, np.ndarray]) -> None:
        """Write `state` (JSON-able) and `arrays`, replacing the previous checkpoint atomically."""
        with atomic_dir(self.folder) as staging:
            (staging / STATE_NAME).write_text(json.dumps({**state, "fingerprint": self.fingerprint}, indent=1))
            np.savez(staging / ARRAYS_NAME, **arrays)

    def load(self) -> tuple[dict, dict[str, np.ndarray]] | None:
        """The saved (state, arrays), or None (with the reason logged) if there is nothing to resume."""
        state_file = self.folder / STATE_NAME
        if not state_file.is_file():
            return None
        try:
            state = json.loads(state_file.read_text())
            with np.load(self.folder / ARRAYS_NAME) as saved:
                arrays = {name: saved[name] for name in saved.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
            log.warning("checkpoint in %s is unreadable (%s); starting fresh", self.folder, err)
            return None
        if state.get("fingerprint") != self.fingerprint:
            log.info("checkpoint in %s belongs to other params or training images; starting fresh", self.folder)
            return None
        return state, arrays


def layer_arrays(prefix: str, layers: Iterable[keras.layers.Layer]) -> dict[str, np.ndarray]:
    """The weights of `layers` keyed '<prefix>/<layer name>/<index>'."""
    return {
        f"{prefix}/{layer.name}/{i}": np.asarray(weight)
        for layer in layers
        for i, weight in enumerate(layer.get_weights())
    }


def restore_layers(prefix: str, layers: Iterable[keras.layers.Layer], arrays: dict[str, np.ndarray]) -> None:
    """Set the weights of `layers` from `layer_arrays` output; a missing or misshapen array is a KeyError."""
    for layer in layers:
        weights = layer.get_weights()
        saved = [arrays[f"{prefix}/{layer.name}/{i}"] for i in range(len(weights))]
        for i, (weight, value) in enumerate(zip(weights, saved, strict=True)):
            if weight.shape != value.shape:
                raise KeyError(f"{prefix}/{layer.name}/{i}: shape {value.shape} != {weight.shape}")
        layer.set_weights(saved)


def optimizer_arrays(prefix: str, optimizer: keras.optimizers.Optimizer) -> dict[str, np.ndarray]:
    """Every variable of a built optimizer (step count, learning rate, moments) keyed '<prefix>/<index>'."""
    return {f"{prefix}/{i}": np.asarray(variable) for i, variable in enumerate(optimizer.variables)}


def restore_optimizer(prefix: str, optimizer: keras.optimizers.Optimizer, arrays: dict[str, np.ndarray]) -> None:
    """Assign the variables saved by `optimizer_arrays` to a built optimizer of the same shape."""
    for i, variable in enumerate(optimizer.variables):
        value = arrays[f"{prefix}/{i}"]
        if tuple(variable.shape) != value.shape:
            raise KeyError(f"{prefix}/{i}: shape {value.shape} != {tuple(variable.shape)}")
        variable.assign(value)


def ema_update(pairs: Sequence[tuple[tf.Variable, tf.Variable]], beta: float) -> None:
    """Move each average towards its live variable: average <- beta * average + (1 - beta) * live."""
    for average, live in pairs:
        average.assign(beta * average + (1.0 - beta) * live)


class LossHistory:
    """Per-step training numbers (one row per step), kept in memory and in checkpoints, written as TSV."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = list(columns)
        self.rows: list[tuple[float, ...]] = []

    def append(self, *values: float) -> None:
        self.rows.append(tuple(float(v) for v in values))

    def as_array(self) -> np.ndarray:
        return np.asarray(self.rows, dtype=np.float64).reshape(-1, len(self.columns))

    def restore(self, array: np.ndarray) -> None:
        self.rows = [tuple(row) for row in array.tolist()]

    def column(self, name: str) -> np.ndarray:
        return self.as_array()[:, self.columns.index(name)]

    def write_tsv(self, path: Path) -> None:
        """Write the rows as a tab-separated table (integers without a decimal point) for `dvc plots`."""

        def cell(value: float) -> str:
            return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:.6g}"

        lines = ["\t".join(self.columns), *("\t".join(map(cell, row)) for row in self.rows)]
        write_text(path, "\n".join(lines) + "\n")


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Generator output in [-1, 1] (values outside are clipped) to 8-bit pixels."""
    return np.round((np.clip(images, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)


def to_unit_range(pixels: np.ndarray) -> np.ndarray:
    """8-bit pixels to float32 in [-1, 1], the range the generators produce."""
    return pixels.astype(np.float32) / 127.5 - 1.0
