"""One resumable training loop for every GAN: checkpoints, the per-step loss log, progress and timing.

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
import math
import time
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Protocol

import keras
import numpy as np

from gandct import logs
from gandct.fileio import atomic_dir, write_text

log = logging.getLogger(__name__)

# Bumped when the checkpoint layout or the meaning of its arrays changes, so old checkpoints are not resumed.
CHECKPOINT_FORMAT = 2
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
    """The weights of `layers` (or sub-models) keyed '<prefix>/<layer name>/<index>'."""
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


@dataclass(frozen=True)
class Phase:
    """One stretch of training with one setting: `images` real images shown in batches of `batch_size`."""

    name: str
    images: int
    batch_size: int

    @property
    def steps(self) -> int:
        return math.ceil(self.images / self.batch_size)


@dataclass
class TrainingState:
    """Where a run is, what it has measured so far; everything here goes into the checkpoint."""

    step: int = 0  # steps done in the whole run
    images: int = 0  # real images shown to the discriminator in the whole run
    phase_index: int = 0
    phase_step: int = 0  # steps done in the current phase
    phase_seconds: dict[str, float] = field(default_factory=dict)


class ResumableTrainer(ABC):
    """Run a list of training phases step by step, checkpointing so that a killed run resumes where it stopped.

    A subclass defines one training step and what its checkpoint holds. The first two loss columns are
    always "step" and "images"; `train_step` returns the others by name. Random draws should be keyed by
    the seed and `state.step`, so that a resumed run draws what the uninterrupted one would have drawn.
    """

    loss_columns: tuple[str, ...]
    shown: tuple[str, ...] = ("d_loss", "g_loss")  # loss values on the progress bar
    state_type: type[TrainingState] = TrainingState

    def __init__(
        self, name: str, phases: Sequence[Phase], checkpoint: Checkpoint | None, checkpoint_seconds: float
    ) -> None:
        self.name = name
        self.phases = list(phases)
        self.checkpoint = checkpoint
        self.checkpoint_seconds = checkpoint_seconds
        self.state = self.state_type()
        self.history = LossHistory(self.loss_columns)

    @abstractmethod
    def train_step(self, phase: Phase) -> dict[str, float]:
        """One optimisation step at `state.step`; the values of `loss_columns[2:]` by name."""

    @abstractmethod
    def checkpoint_arrays(self) -> dict[str, np.ndarray]:
        """Everything besides the counters and the loss rows that a resumed run needs, by name."""

    @abstractmethod
    def restore_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Load what `checkpoint_arrays` saved (shapes already checked)."""

    def prepare_resume(self, state: TrainingState) -> None:  # noqa: B027 - optional hook
        """Build whatever must exist before `checkpoint_arrays` can describe a run at `state`."""

    def end_phase(self, phase: Phase) -> None:  # noqa: B027 - optional hook
        """Called after each phase's last step, before the checkpoint is written."""

    @property
    def total_steps(self) -> int:
        return sum(phase.steps for phase in self.phases)

    def save(self) -> None:
        """Write the whole training state to the checkpoint (if there is one)."""
        if self.checkpoint is not None:
            arrays = {**self.checkpoint_arrays(), "history": self.history.as_array()}
            self.checkpoint.save(self.state.__dict__, arrays)

    def resume(self) -> bool:
        """Load the checkpoint if it matches this run; True if training continues from it."""
        loaded = self.checkpoint.load() if self.checkpoint is not None else None
        if loaded is None:
            return False
        saved_state, arrays = loaded
        missing = [item.name for item in fields(self.state_type) if item.name not in saved_state]
        if missing:
            log.info(
                "checkpoint in %s does not fit this model (%s); starting fresh", self.checkpoint.folder, missing[0]
            )
            return False
        state = self.state_type(**{item.name: saved_state[item.name] for item in fields(self.state_type)})
        self.prepare_resume(state)
        expected = self.checkpoint_arrays()
        mismatched = [
            name for name, value in expected.items() if getattr(arrays.get(name), "shape", None) != value.shape
        ]
        if getattr(arrays.get("history"), "shape", (0, 0))[1:] != (len(self.loss_columns),):
            mismatched.append("history")
        if mismatched:
            log.info(
                "checkpoint in %s does not fit this model (%s); starting fresh", self.checkpoint.folder, mismatched[0]
            )
            return False
        self.restore_arrays(arrays)
        self.history.restore(arrays["history"])
        self.state = state
        return True

    def run_step(self, phase: Phase) -> dict[str, float]:
        """One training step of `phase` at the current position: advance the counters, record the losses."""
        values = self.train_step(phase)
        self.state.step += 1
        self.state.phase_step += 1
        self.state.images += phase.batch_size
        self.history.append(self.state.step, self.state.images, *(values[name] for name in self.loss_columns[2:]))
        return values

    def train(self, progress: bool = True) -> None:
        """Run (or finish) every phase, checkpointing at every phase end and every `checkpoint_seconds`."""
        if self.resume():
            if self.state.phase_index < len(self.phases):
                phase = self.phases[self.state.phase_index]
                log.info("%s: resuming from checkpoint: step %d (%s)", self.name, self.state.step, phase.name)
            else:
                log.info(
                    "%s: checkpoint holds the finished training (%d steps): nothing left to train",
                    self.name,
                    self.state.step,
                )
        bar = logs.progress(
            total=self.total_steps, initial=self.state.step, desc=self.name, unit="step", disable=not progress
        )
        last_save = time.perf_counter()
        with bar:
            while self.state.phase_index < len(self.phases):
                phase = self.phases[self.state.phase_index]
                started = time.perf_counter()
                while self.state.phase_step < phase.steps:
                    values = self.run_step(phase)
                    bar.update()
                    if self.state.phase_step % 10 == 0 or self.state.phase_step == phase.steps:
                        shown = " ".join(f"{name}={values[name]:.3f}" for name in self.shown)
                        bar.set_postfix_str(f"{phase.name} {shown}", refresh=False)
                    if (
                        time.perf_counter() - last_save > self.checkpoint_seconds
                        and self.state.phase_step < phase.steps
                    ):
                        self._record_time(phase, started)
                        started = time.perf_counter()
                        self.save()
                        last_save = time.perf_counter()
                self._record_time(phase, started)
                self.end_phase(phase)
                seconds = self.state.phase_seconds[phase.name]
                log.info("%s: phase %s done: %d steps, %.1f s", self.name, phase.name, phase.steps, seconds)
                self.state.phase_index += 1
                self.state.phase_step = 0
                self.save()
                last_save = time.perf_counter()

    def _record_time(self, phase: Phase, started: float) -> None:
        seconds = self.state.phase_seconds.get(phase.name, 0.0)
        self.state.phase_seconds[phase.name] = seconds + time.perf_counter() - started


class PairConfig(Protocol):
    """What `PairTrainer` reads of a GAN's config."""

    resolution: int
    images: int
    batch_size: int
    learning_rate: float


class PairTrainer(ResumableTrainer):
    """A generator and a discriminator trained in one phase on `reals`, each by its own Adam (beta1 0.5, as
    DCGAN and pix2pix do); the checkpoint holds both networks' weights and both optimizers' slots.

    A subclass names itself and gives `build_networks` and `build_step`.
    """

    name: str

    def __init__(
        self,
        config: PairConfig,
        reals: np.ndarray,
        checkpoint: Checkpoint | None = None,
        checkpoint_seconds: float = 60.0,
    ) -> None:
        """`reals`: float32 images in [-1, 1] of shape (count, resolution, resolution, 3)."""
        phase = Phase(f"{config.resolution}x{config.resolution}", config.images, config.batch_size)
        super().__init__(self.name, [phase], checkpoint, checkpoint_seconds)
        self.config = config
        self.generator, self.discriminator = self.build_networks(config)
        self.optimizers = tuple(keras.optimizers.Adam(config.learning_rate, beta_1=0.5) for _ in range(2))
        for optimizer, network in zip(self.optimizers, (self.generator, self.discriminator), strict=True):
            optimizer.build(network.trainable_variables)
        self.reals = keras.ops.convert_to_tensor(reals)
        self._train_step = self.build_step()

    @staticmethod
    @abstractmethod
    def build_networks(config: PairConfig) -> tuple[keras.Model, keras.Model]:
        """The (generator, discriminator) pair, freshly initialised."""

    @abstractmethod
    def build_step(self) -> Callable:
        """A compiled step taking the step number (int64 tensor), returning the values of `loss_columns[2:]`."""

    def train_step(self, phase: Phase) -> dict[str, float]:
        values = self._train_step(keras.ops.convert_to_tensor(self.state.step, "int64"))
        return dict(zip(self.loss_columns[2:], (float(value) for value in values), strict=True))

    def checkpoint_arrays(self) -> dict[str, np.ndarray]:
        return {
            **layer_arrays("g", self.generator.layers),
            **layer_arrays("d", self.discriminator.layers),
            **optimizer_arrays("g_opt", self.optimizers[0]),
            **optimizer_arrays("d_opt", self.optimizers[1]),
        }

    def restore_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        restore_layers("g", self.generator.layers, arrays)
        restore_layers("d", self.discriminator.layers, arrays)
        restore_optimizer("g_opt", self.optimizers[0], arrays)
        restore_optimizer("d_opt", self.optimizers[1], arrays)
