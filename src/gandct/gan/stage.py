"""The run every GAN stage shares: train its generator on the train-split reals (resuming from a checkpoint),
save it, write its fakes and figures, and time each phase. A stage names what differs in a `GANStage`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np

from gandct import paths
from gandct.gan import fakes
from gandct.gan.listing import write_timings
from gandct.gan.trainer import ResumableTrainer
from gandct.keras_io import save_model
from gandct.logs import setup_logging
from gandct.params import Params, load_params
from gandct.timing import PhaseTimer


@dataclass(frozen=True)
class GANRun:
    """One run of a GAN stage, once its generator is ready: what the fakes and figures are made from."""

    generator: str
    params: Params
    manifest: list[dict[str, str]]
    reals: np.ndarray  # the train-split reals, float32 in [-1, 1]
    model: keras.Model  # the generator as saved
    trainer: ResumableTrainer | None  # None when the generator was brought rather than trained


def write_latent_fakes(run: GANRun) -> None:
    """Fakes from seeded latent vectors for every split, as many as the split has reals unless
    `augment.per_split` says otherwise: the detectors train, choose thresholds and are tested on them."""
    counts = fakes.fake_counts(run.manifest, dict(run.params.augment.per_split), fakes.SPLITS)
    fakes.write_fakes(run.generator, run.model, counts, run.params.seed)


def trainer_generator(trainer: ResumableTrainer) -> keras.Model:
    """The generator a trainer trained, saved as it is."""
    return trainer.generator


@dataclass(frozen=True)
class GANStage:
    """What one GAN stage trains and writes; `run_gan_stage` does the rest, the same way for every GAN."""

    generator: str  # the generator's name, which names its model, fakes, figures, tables and checkpoint
    new_trainer: Callable[[Params, np.ndarray, list[str]], ResumableTrainer]  # (params, train reals, their hashes)
    write_figures: Callable[[GANRun], None]
    export: Callable[[ResumableTrainer], keras.Model] = trainer_generator  # the trained model to save
    write_fakes: Callable[[GANRun], None] = write_latent_fakes
    fakes_phase: str = "write fakes"  # the timed phase that `write_fakes` runs in
    # A generator to use instead of training one, or None to train (the progan stage's augment.generator_path).
    brought_generator: Callable[[Params], keras.Model | None] | None = None


def run_gan_stage(stage: GANStage) -> None:
    """Train (or resume, or bring) the stage's generator, save it, and write its fakes, figures and timings."""
    setup_logging()
    params = load_params()
    # The same graph options in every GAN stage, so each trains as it did when they shared one process.
    fakes.configure_tensorflow()
    timer = PhaseTimer()
    trainer = None
    with timer.phase("total"):
        manifest, reals, hashes = fakes.read_train_reals(params.augment.resolution, params.features.crop, timer)
        model = stage.brought_generator(params) if stage.brought_generator else None
        if model is None:
            trainer = stage.new_trainer(params, reals, hashes)
            with timer.phase(f"{stage.generator} training"):
                trainer.train()
            model = stage.export(trainer)  # the fakes come from the model the file holds
            save_model(model, paths.generator_model(stage.generator))
        run = GANRun(stage.generator, params, manifest, reals, model, trainer)
        with timer.phase(stage.fakes_phase):
            stage.write_fakes(run)
        with timer.phase("figures"):
            stage.write_figures(run)
    write_timings(stage.generator, timer, trainer.state.phase_seconds if trainer else {})
