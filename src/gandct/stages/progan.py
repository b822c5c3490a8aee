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

from gandct import paths
from gandct.cli import run_command
from gandct.fileio import atomic_path
from gandct.gan import fakes
from gandct.gan.figures import save_growth_figure, save_loss_figure, save_note_figure
from gandct.gan.progan import LOSS_COLUMNS, ProGAN, ProGANConfig, ProGANTrainer, export_generator
from gandct.gan.trainer import LossHistory
from gandct.keras_io import save_model
from gandct.logs import setup_logging
from gandct.params import load_params
from gandct.timing import PhaseTimer

log = logging.getLogger(__name__)

GENERATOR = "progan"
SPLITS = ("train", "val", "test")  # the detectors train, choose thresholds and are tested on these fakes


def write_reports(trainer: ProGANTrainer | None, source: Path | None) -> None:
    """Loss table and curve, and the growth figure; notes in their place for a loaded generator."""
    losses, growth = paths.gan_figure(GENERATOR, "losses"), paths.gan_figure(GENERATOR, "growth")
    if trainer is None:
        LossHistory(LOSS_COLUMNS).write_tsv(paths.gan_losses(GENERATOR))
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
    parser = argparse.ArgumentParser(prog="gandct progan", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    setup_logging()
    params = load_params()
    settings = params.augment
    fakes.configure_tensorflow()
    timer = PhaseTimer()
    trainer = None
    with timer.phase("total"):
        manifest, reals, hashes = fakes.read_train_reals(settings.resolution, timer)
        source = Path(settings.generator_path) if settings.generator_path else None
        if source is not None:
            generator = fakes.load_generator(source)
            with atomic_path(paths.generator_model(GENERATOR)) as tmp:
                shutil.copyfile(source, tmp)
            log.info("progan: using the generator in %s (no training)", source)
        else:
            checkpoint = fakes.checkpoint(GENERATOR, settings.progan.model_dump(), params, hashes)
            config = ProGANConfig.from_params(settings, params.seed)
            trainer = ProGANTrainer(ProGAN(config), reals, checkpoint, settings.checkpoint_seconds)
            with timer.phase("progan training"):
                trainer.train()
            generator = export_generator(trainer.gan)  # the fakes come from the model the file holds
            save_model(generator, paths.generator_model(GENERATOR))
        with timer.phase("write fakes"):
            counts = fakes.fake_counts(manifest, dict(settings.per_split), SPLITS)
            fakes.write_fakes(GENERATOR, generator, counts, params.seed)
        with timer.phase("figures"):
            fakes.save_samples(GENERATOR, "ProGAN", generator, reals, params.seed)
            write_reports(trainer, source)
    fakes.write_timings(GENERATOR, timer, trainer.state.phase_seconds if trainer else {})


if __name__ == "__main__":
    run_command("progan", main)
