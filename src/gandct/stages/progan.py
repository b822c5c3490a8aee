"""progan stage: train a Progressive GAN on the train-split reals and write its fakes for train, val and test.

Reads `data/interim/manifest.csv` (only its train-split reals). Writes the generator
`models/progan/generator.keras` (built-in Keras layers only), the fakes as PNG under
`data/interim/generated/progan/<split>/`, their list `data/interim/generated/progan.csv`, the sample,
growth and loss figures `reports/figures/progan_*.png`, and `reports/augment/progan_losses.tsv` and
`progan_timings.json`. Training resumes from `models/checkpoints/progan/` when a killed run left a
checkpoint for the same params and images. `augment.generator_path` replaces the training with a
generator you bring.
"""

from __future__ import annotations

import argparse
import logging
import shutil
from pathlib import Path

import keras
import numpy as np

from gandct import paths
from gandct.entry import run_command
from gandct.fileio import atomic_path
from gandct.gan import fakes
from gandct.gan.figures import save_growth_figure, save_loss_figure, save_note_figure
from gandct.gan.progan import ProGAN, ProGANConfig
from gandct.gan.progan_export import export_generator
from gandct.gan.progan_trainer import LOSS_COLUMNS, ProGANTrainer
from gandct.gan.stage import GANRun, GANStage, run_gan_stage
from gandct.gan.trainer import LossHistory
from gandct.params import Params

log = logging.getLogger(__name__)

GENERATOR = "progan"


def brought_generator(params: Params) -> keras.Model | None:
    """The generator `augment.generator_path` names, copied to where the stage saves its own; None to train one."""
    if not params.augment.generator_path:
        return None
    source = Path(params.augment.generator_path)
    generator = fakes.load_generator(source)
    with atomic_path(paths.generator_model(GENERATOR)) as tmp:
        shutil.copyfile(source, tmp)
    log.info("progan: using the generator in %s (no training)", source)
    return generator


def new_trainer(params: Params, reals: np.ndarray, hashes: list[str]) -> ProGANTrainer:
    """The ProGAN the `augment` params ask for, with its checkpoint."""
    checkpoint = fakes.checkpoint(GENERATOR, params.augment.progan.model_dump(), params, hashes)
    config = ProGANConfig.from_params(params.augment, params.seed)
    return ProGANTrainer(ProGAN(config), reals, checkpoint, params.augment.checkpoint_seconds)


def write_figures(run: GANRun) -> None:
    """Samples, the loss table and curve, and the growth figure; notes in their place for a brought generator."""
    fakes.save_samples(GENERATOR, "ProGAN", run.model, run.reals, run.params.seed)
    losses, growth = paths.gan_figure(GENERATOR, "losses"), paths.gan_figure(GENERATOR, "growth")
    trainer = run.trainer
    if trainer is None:
        LossHistory(LOSS_COLUMNS).write_tsv(paths.gan_losses(GENERATOR))
        source = Path(run.params.augment.generator_path)
        note = f"not trained here: the generator was loaded from {source} (augment.generator_path)"
        save_note_figure(losses, note)
        save_note_figure(growth, note)
        return
    trainer.history.write_tsv(paths.gan_losses(GENERATOR))
    boundaries, first_step = [], 1
    for phase in trainer.phases:
        boundaries.append((first_step, phase.name))
        first_step += phase.steps
    series = {name: trainer.history.column(name) for name in ("d_loss", "g_loss")}
    save_loss_figure(losses, trainer.history.column("step"), series, "ProGAN (WGAN-GP) losses", boundaries)
    save_growth_figure(growth, trainer.growth)


def main(argv: list[str] | None = None) -> None:
    """Run the stage: train (or resume, or bring) the ProGAN and write its fakes."""
    parser = argparse.ArgumentParser(prog="gandct progan", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    stage = GANStage(
        GENERATOR,
        new_trainer,
        write_figures,
        export=lambda trainer: export_generator(trainer.gan),
        brought_generator=brought_generator,
    )
    run_gan_stage(stage)


if __name__ == "__main__":
    run_command("progan", main)
