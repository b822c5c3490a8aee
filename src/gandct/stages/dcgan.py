"""dcgan stage: train a DCGAN on the train-split reals and write its fakes: those of the test split make the test
set `test_dcgan`, a generator with another up-sampling (transposed convolutions); those of train and val let
`train.fakes` name it (by default no detector trains on it).

Reads `data/interim/manifest.csv` (only its train-split reals). Writes `models/dcgan/generator.keras`,
as many fakes per split as the split has reals, as PNG under `data/interim/generated/dcgan/<split>/`, their list
`data/interim/generated/dcgan.csv`, `reports/figures/dcgan_{samples,losses}.png`, and
`reports/augment/dcgan_losses.tsv` and `dcgan_timings.json`. Training resumes from
`models/checkpoints/dcgan/` when a killed run left a checkpoint for the same params and images.
"""

from __future__ import annotations

import argparse

from gandct import paths
from gandct.cli import run_command
from gandct.gan import fakes
from gandct.gan.dcgan import DCGANConfig, DCGANTrainer
from gandct.gan.figures import save_loss_figure
from gandct.keras_io import save_model
from gandct.logs import setup_logging
from gandct.params import load_params
from gandct.timing import PhaseTimer

GENERATOR = "dcgan"
SPLITS = ("train", "val", "test")


def write_reports(trainer: DCGANTrainer) -> None:
    trainer.history.write_tsv(paths.gan_losses(GENERATOR))
    series = {name: trainer.history.column(name) for name in ("d_loss", "g_loss")}
    title = "DCGAN (non-saturating logistic) losses"
    save_loss_figure(paths.gan_figure(GENERATOR, "losses"), trainer.history.column("step"), series, title)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="gandct dcgan", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    setup_logging()
    params = load_params()
    settings = params.augment
    # The same graph options as the progan stage, so both train as they did when they shared one process.
    fakes.configure_tensorflow()
    timer = PhaseTimer()
    with timer.phase("total"):
        manifest, reals, hashes = fakes.read_train_reals(settings.resolution, timer)
        checkpoint = fakes.checkpoint(GENERATOR, settings.dcgan.model_dump(), params, hashes)
        trainer = DCGANTrainer(
            DCGANConfig.from_params(settings, params.seed), reals, checkpoint, settings.checkpoint_seconds
        )
        with timer.phase("dcgan training"):
            trainer.train()
        save_model(trainer.generator, paths.generator_model(GENERATOR))
        with timer.phase("write fakes"):
            counts = fakes.fake_counts(manifest, dict(settings.per_split), SPLITS)
            fakes.write_fakes(GENERATOR, trainer.generator, counts, params.seed)
        with timer.phase("figures"):
            fakes.save_samples(GENERATOR, "DCGAN (unseen)", trainer.generator, reals, params.seed)
            write_reports(trainer)
    fakes.write_timings(GENERATOR, timer, trainer.state.phase_seconds)


if __name__ == "__main__":
    run_command("dcgan", main)
