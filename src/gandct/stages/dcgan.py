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

import numpy as np

from gandct import paths
from gandct.entry import run_command
from gandct.gan import fakes
from gandct.gan.dcgan import DCGANConfig, DCGANTrainer
from gandct.gan.figures import save_loss_figure
from gandct.gan.stage import GANRun, GANStage, run_gan_stage
from gandct.params import Params

GENERATOR = "dcgan"


def new_trainer(params: Params, reals: np.ndarray, hashes: list[str]) -> DCGANTrainer:
    """The DCGAN the `augment` params ask for, with its checkpoint."""
    checkpoint = fakes.checkpoint(GENERATOR, params.augment.dcgan.model_dump(), params, hashes)
    config = DCGANConfig.from_params(params.augment, params.seed)
    return DCGANTrainer(config, reals, checkpoint, params.augment.checkpoint_seconds)


def write_figures(run: GANRun) -> None:
    """Samples, the loss table and the loss curves."""
    fakes.save_samples(GENERATOR, "DCGAN (unseen)", run.model, run.reals, run.params.seed)
    history = run.trainer.history
    history.write_tsv(paths.gan_losses(GENERATOR))
    series = {name: history.column(name) for name in ("d_loss", "g_loss")}
    title = "DCGAN (non-saturating logistic) losses"
    save_loss_figure(paths.gan_figure(GENERATOR, "losses"), history.column("step"), series, title)


def main(argv: list[str] | None = None) -> None:
    """Run the stage: train (or resume) the DCGAN and write its fakes."""
    parser = argparse.ArgumentParser(prog="gandct dcgan", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    run_gan_stage(GANStage(GENERATOR, new_trainer, write_figures))


if __name__ == "__main__":
    run_command("dcgan", main)
