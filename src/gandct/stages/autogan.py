"""autogan stage, one per up-sampling family: `gandct autogan <family>` trains that family's auto-encoder on
the train-split reals and writes a twin of every real image (`gandct.gan.autogan` has the families).

Reads `data/interim/manifest.csv` (its real images of every split; only the train split's train the
auto-encoder). Writes, for generator autogan_<family>: the auto-encoder `models/autogan_<family>/generator.keras`
(image in, image out, built-in Keras layers only), one twin per real image as PNG at the real's own size,
`data/interim/generated/autogan_<family>/<split>/<stem of the real>.png` (a stem that repeats within a split
goes into a folder named after the real's hash), their list `data/interim/generated/autogan_<family>.csv`
(each twin in its real's split and group), `reports/figures/autogan_<family>_{samples,losses}.png`, and
`reports/augment/autogan_<family>_losses.tsv` and `_timings.json`. Training resumes from
`models/checkpoints/autogan_<family>/` when a killed run left a checkpoint for the same params and images.
"""

from __future__ import annotations

import argparse
import functools
import logging
from collections import Counter

import keras
import numpy as np

from gandct import paths
from gandct.entry import run_command
from gandct.errors import GandctError
from gandct.fileio import atomic_dir, write_csv
from gandct.gan import fakes
from gandct.gan.autogan import FAMILIES, AutoGANConfig, AutoGANTrainer, generator_name, reconstruct
from gandct.gan.figures import SAMPLES_SHOWN, save_loss_figure, save_samples_figure
from gandct.gan.listing import COLUMNS, listing_row
from gandct.gan.pixels import to_uint8, to_unit_range
from gandct.gan.stage import GANStage, run_gan_stage
from gandct.images import ImageError, as_gray, encode_png, is_gray, load_rgb
from gandct.logs import progress
from gandct.params import Params
from gandct.twins import twin_paths

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")  # every real image gets a twin
CHUNK = 64  # real images decoded and reconstructed at a time


def read_real(row: dict[str, str]) -> np.ndarray:
    """One real photograph, decoded; an unreadable one is a GandctError naming what to re-run."""
    try:
        return load_rgb(row["path"])
    except ImageError as err:
        raise GandctError(f"{row['path']}: {err}; run the prepare stage again (make data)") from None


def twin_images(autoencoder: keras.Model, images: list[np.ndarray], reduction: int) -> list[np.ndarray]:
    """The uint8 twins of uint8 images (any sizes): same-size images go through the auto-encoder together. A gray
    photo gets a gray twin (the output's luma): the decoder's slight chroma would otherwise tell the pair apart
    on colour features, which is not the up-sampling trace the twin is meant to differ by."""
    twins: list[np.ndarray] = [np.empty(0)] * len(images)
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for index, image in enumerate(images):
        by_shape.setdefault(image.shape, []).append(index)
    for indices in by_shape.values():
        batch = to_unit_range(np.stack([images[index] for index in indices]))
        for index, twin in zip(indices, to_uint8(reconstruct(autoencoder, batch, reduction)), strict=True):
            twins[index] = as_gray(twin) if is_gray(images[index]) else twin
    return twins


def write_twins(generator: str, autoencoder: keras.Model, manifest: list[dict[str, str]], reduction: int) -> Counter:
    """Write the twin of every real of SPLITS into generated/<generator>/ (atomically) and list them; return
    the count per split."""
    reals = [row for row in manifest if row["label"] == "real" and row["split"] in SPLITS]
    targets = twin_paths(paths.generated_dir(generator), reals)
    folder = paths.generated_dir(generator)
    rows = []
    with atomic_dir(folder) as staging, progress(total=len(reals), desc=f"{generator} twins", unit="img") as bar:
        for start in range(0, len(reals), CHUNK):
            chunk = reals[start : start + CHUNK]
            twins = twin_images(autoencoder, [read_real(row) for row in chunk], reduction)
            for row, twin, target in zip(chunk, twins, targets[start : start + CHUNK], strict=True):
                data = encode_png(twin)
                staged = staging / target.relative_to(folder)
                staged.parent.mkdir(parents=True, exist_ok=True)
                staged.write_bytes(data)
                # The twin keeps its real's group: the same photograph, so never in another split.
                rows.append(listing_row(generator, row["split"], target, data, row["group"]))
            bar.update(len(chunk))
    write_csv(paths.generated_listing(generator), COLUMNS, rows)
    counts = Counter(row["split"] for row in rows)
    log.info("%s twins: %s", generator, ", ".join(f"{split}={counts[split]}" for split in SPLITS))
    return counts


def write_reports(trainer: AutoGANTrainer, reals: np.ndarray, seed: int) -> None:
    """Samples (train reals beside their twins), the loss table and the loss curves."""
    shown = np.random.default_rng([seed, 8]).permutation(len(reals))[:SAMPLES_SHOWN]
    twins = to_uint8(reconstruct(trainer.generator, reals[shown], trainer.config.reduction))
    generator, family = trainer.name, trainer.config.family
    title = f"their twins, {family} up-sampling"
    save_samples_figure(paths.gan_figure(generator, "samples"), to_uint8(reals[shown]), twins, title)
    history = trainer.history
    history.write_tsv(paths.gan_losses(generator))
    series = {"l1": history.column("l1")}
    loss_title = f"auto-encoder ({family} up-sampling): L1 reconstruction loss per step"
    save_loss_figure(paths.gan_figure(generator, "losses"), history.column("step"), series, loss_title)


def new_trainer(family: str, params: Params, reals: np.ndarray, hashes: list[str]) -> AutoGANTrainer:
    """The auto-encoder of `family` that the `autogan` params ask for, with its checkpoint."""
    config = AutoGANConfig.from_params(params, family)
    checkpoint = fakes.checkpoint(generator_name(family), config.__dict__, params, hashes)
    return AutoGANTrainer(config, reals, checkpoint, params.augment.checkpoint_seconds)


def main(argv: list[str] | None = None) -> None:
    """Run the stage for one up-sampling family: `gandct autogan <family>`."""
    parser = argparse.ArgumentParser(prog="gandct autogan", description=__doc__.splitlines()[0])
    parser.add_argument("family", choices=FAMILIES, help="how the decoder up-samples")
    args = parser.parse_args(argv)
    stage = GANStage(
        generator_name(args.family),
        functools.partial(new_trainer, args.family),
        write_figures=lambda run: write_reports(run.trainer, run.reals, run.params.seed),
        write_fakes=lambda run: write_twins(run.generator, run.model, run.manifest, run.trainer.config.reduction),
        fakes_phase="write twins",
    )
    run_gan_stage(stage)


if __name__ == "__main__":
    run_command("autogan", main)
