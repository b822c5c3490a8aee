"""augment stage: train a Progressive GAN on the train-split reals and add its fakes to train / val / test,
plus the fakes of a DCGAN (a different up-sampling) in a `test_unseen` split that no detector trains on.

Reads `data/interim/manifest.csv` (only its train-split reals). Writes the generators
(`models/progan/generator.keras`, `models/dcgan/generator.keras`), the fakes as PNG under
`data/interim/generated/<generator>/<split>/`, their list `data/interim/generated.csv`, sample, growth and
loss figures, loss tables for `dvc plots` and the measured phase times under `reports/augment/`.
Training resumes from `models/checkpoints/` when a killed run left a checkpoint for the same params and images.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import shutil
from collections import Counter
from pathlib import Path

import cv2
import keras
import numpy as np
import tensorflow as tf

from gandct import paths
from gandct.cli import run_command
from gandct.dcgan import DCGANConfig, DCGANTrainer
from gandct.errors import GandctError
from gandct.fileio import atomic_dir, atomic_path, read_csv, write_csv, write_text
from gandct.gan_figures import save_growth_figure, save_loss_figure, save_note_figure, save_samples_figure
from gandct.gantrain import Checkpoint, LossHistory, fingerprint, to_uint8, to_unit_range
from gandct.images import ImageError, encode_png, load_rgb
from gandct.logs import setup_logging
from gandct.params import AugmentParams, Params, load_params
from gandct.progan import LOSS_COLUMNS, ProGAN, ProGANConfig, ProGANTrainer, schedule
from gandct.timing import PhaseTimer, reference_workload

log = logging.getLogger(__name__)

COLUMNS = ["path", "label", "split", "group", "generator", "sha256"]
# Which generator's fakes go into which split: the DCGAN's only into test_unseen, which no detector trains on.
SPLIT_GENERATOR = {"train": "progan", "val": "progan", "test": "progan", "test_unseen": "dcgan"}
SAMPLES_SHOWN = 64


def load_train_reals(manifest: list[dict[str, str]], resolution: int) -> tuple[np.ndarray, list[str]]:
    """The train-split real images as float32 in [-1, 1] at `resolution` (centre square, area-resized),
    and their sha256 values. Never reads a val or test image."""
    rows = [row for row in manifest if row["split"] == "train" and row["label"] == "real"]
    if not rows:
        raise GandctError(f"{paths.MANIFEST} has no train-split real images to train the GANs on")
    images = []
    for row in rows:
        try:
            rgb = load_rgb(row["path"])
        except ImageError as err:
            raise GandctError(f"{row['path']}: {err}; run the prepare stage again (make data)") from None
        height, width = rgb.shape[:2]
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        square = rgb[top : top + side, left : left + side]
        if side != resolution:
            square = cv2.resize(square, (resolution, resolution), interpolation=cv2.INTER_AREA)
        images.append(square)
    return to_unit_range(np.stack(images)), [row["sha256"] for row in rows]


def fake_counts(manifest: list[dict[str, str]], per_split: dict[str, int]) -> dict[str, int]:
    """Fakes per split: as many as the split has reals (test_unseen: as many as test), unless overridden."""
    reals = Counter(row["split"] for row in manifest if row["label"] == "real")
    default = {"train": reals["train"], "val": reals["val"], "test": reals["test"], "test_unseen": reals["test"]}
    return {split: per_split.get(split, count) for split, count in default.items()}


def save_model(model: keras.Model, path: Path) -> None:
    with atomic_path(path) as tmp:
        model.save(tmp)


def load_generator(path: Path) -> keras.Model:
    """A user's generator: one latent-vector input, RGB images in [-1, 1] out; loaded with safe_mode."""
    if not path.is_file():
        raise GandctError(f"augment.generator_path: {path} is not a file")
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except (ValueError, TypeError, OSError) as err:
        raise GandctError(f"augment.generator_path: cannot load {path} as a Keras model: {err}") from None
    inputs, outputs = model.inputs, model.outputs
    if len(inputs) != 1 or len(inputs[0].shape) != 2 or len(outputs) != 1 or len(outputs[0].shape) != 4:
        raise GandctError(f"augment.generator_path: {path} must map one latent vector to one image batch")
    if outputs[0].shape[-1] != 3:
        raise GandctError(f"augment.generator_path: {path} makes {outputs[0].shape[-1]}-channel images, not RGB")
    return model


def train_progan(params: Params, reals: np.ndarray, hashes: list[str], timer: PhaseTimer) -> ProGANTrainer:
    """Train (or resume, or just reload) the ProGAN; the trainer holds the networks, losses and times."""
    section = params.augment.progan
    config = ProGANConfig.from_params(params.augment, params.seed)
    settings = {"model": "progan", "seed": params.seed, "resolution": config.resolution, **section.model_dump()}
    checkpoint = Checkpoint(paths.GAN_CHECKPOINTS / "progan", fingerprint(settings, hashes))
    trainer = ProGANTrainer(ProGAN(config), reals, checkpoint, params.augment.checkpoint_seconds)
    with timer.phase("progan training"):
        trainer.train()
    return trainer


def train_dcgan(params: Params, reals: np.ndarray, hashes: list[str], timer: PhaseTimer) -> DCGANTrainer:
    """Train (or resume, or just reload) the DCGAN for the unseen-generator test."""
    section = params.augment.dcgan
    config = DCGANConfig.from_params(params.augment, params.seed)
    settings = {"model": "dcgan", "seed": params.seed, "resolution": config.resolution, **section.model_dump()}
    checkpoint = Checkpoint(paths.GAN_CHECKPOINTS / "dcgan", fingerprint(settings, hashes))
    trainer = DCGANTrainer(config, reals, checkpoint, params.augment.checkpoint_seconds)
    with timer.phase("dcgan training"):
        trainer.train()
    log.info("dcgan: %d steps, %.1f s of training in all", trainer.state.step, trainer.state.seconds)
    return trainer


def generate(model: keras.Model, count: int, seed: list[int]) -> np.ndarray:
    """`count` uint8 images from latent vectors drawn with `seed`."""
    latents = np.random.default_rng(seed).standard_normal((count, model.inputs[0].shape[-1]), dtype=np.float32)
    if count == 0:
        return np.zeros((0, *model.outputs[0].shape[1:]), np.uint8)
    return to_uint8(model.predict(latents, batch_size=256, verbose=0))


def write_fakes(generators: dict[str, keras.Model], counts: dict[str, int], seed: int) -> list[dict[str, str]]:
    """Generate every split's fakes into data/interim/generated/ (atomically) and return their manifest rows."""
    rows = []
    with atomic_dir(paths.GENERATED_DIR) as staging:
        for split_index, (split, count) in enumerate(counts.items()):
            name = SPLIT_GENERATOR[split]
            folder = staging / name / split
            folder.mkdir(parents=True)
            for index, image in enumerate(generate(generators[name], count, [seed, 7, split_index])):
                data = encode_png(image)
                file_name = f"{name}_{split}_{index:05d}.png"
                (folder / file_name).write_bytes(data)
                rows.append(
                    {
                        "path": (paths.GENERATED_DIR / name / split / file_name).as_posix(),
                        "label": "fake",
                        "split": split,
                        # One sampling run of one generator per split: the unit that never spans two splits.
                        "group": f"{name}-{split}",
                        "generator": name,
                        "sha256": hashlib.sha256(data).hexdigest(),
                    }
                )
        for name in generators:  # each generator's own listing, which the features of its splits read
            listed = [row for row in rows if row["generator"] == name]
            write_csv(staging / paths.generated_listing(name).relative_to(paths.GENERATED_DIR), COLUMNS, listed)
    return rows


def write_progan_reports(trainer: ProGANTrainer | None, source: Path | None) -> None:
    """Loss table and curve, and the growth figure; notes in their place for a loaded generator."""
    figures = paths.FIGURES
    if trainer is None:
        LossHistory(LOSS_COLUMNS).write_tsv(paths.AUGMENT_REPORTS / "progan_losses.tsv")
        note = f"not trained here: the generator was loaded from {source} (augment.generator_path)"
        save_note_figure(figures / "progan_losses.png", note)
        save_note_figure(figures / "progan_growth.png", note)
        return
    trainer.history.write_tsv(paths.AUGMENT_REPORTS / "progan_losses.tsv")
    steps = trainer.history.column("step")
    boundaries, first_step = [], 1
    for phase in schedule(trainer.config):
        boundaries.append((first_step, phase.name))
        first_step += trainer.phase_steps(phase)
    series = {name: trainer.history.column(name) for name in ("d_loss", "g_loss")}
    save_loss_figure(figures / "progan_losses.png", steps, series, "ProGAN (WGAN-GP) losses", boundaries)
    save_growth_figure(figures / "progan_growth.png", trainer.growth)


def write_dcgan_reports(trainer: DCGANTrainer) -> None:
    trainer.history.write_tsv(paths.AUGMENT_REPORTS / "dcgan_losses.tsv")
    steps = trainer.history.column("step")
    series = {name: trainer.history.column(name) for name in ("d_loss", "g_loss")}
    save_loss_figure(paths.FIGURES / "dcgan_losses.png", steps, series, "DCGAN (non-saturating logistic) losses")


def augment(params: Params, timer: PhaseTimer) -> dict[str, object]:
    """Run the whole stage; returns what the timings file records besides the phase times."""
    settings: AugmentParams = params.augment
    if not paths.MANIFEST.is_file():
        raise GandctError(f"{paths.MANIFEST} not found; run the prepare stage first (make data)")
    manifest = read_csv(paths.MANIFEST)
    with timer.phase("load train reals"):
        reals, hashes = load_train_reals(manifest, settings.resolution)
    log.info("training on %d train-split reals at %dx%d", len(reals), settings.resolution, settings.resolution)

    progan_trainer = None
    if settings.generator_path:
        source = Path(settings.generator_path)
        progan = load_generator(source)
        with atomic_path(paths.PROGAN_GENERATOR) as tmp:
            shutil.copyfile(source, tmp)
        log.info("progan: using the generator in %s (no training)", source)
    else:
        progan_trainer = train_progan(params, reals, hashes, timer)
        progan = progan_trainer.gan.sampler(average=True)
        save_model(progan, paths.PROGAN_GENERATOR)
    dcgan_trainer = train_dcgan(params, reals, hashes, timer)
    save_model(dcgan_trainer.generator, paths.DCGAN_GENERATOR)

    counts = fake_counts(manifest, dict(settings.per_split))
    with timer.phase("write fakes"):
        rows = write_fakes({"progan": progan, "dcgan": dcgan_trainer.generator}, counts, params.seed)
        write_csv(paths.GENERATED, COLUMNS, rows)
    log.info("fakes: %s", ", ".join(f"{split}={count}" for split, count in counts.items()))

    with timer.phase("figures"):
        shown = np.random.default_rng([params.seed, 8]).permutation(len(reals))[:SAMPLES_SHOWN]
        real_samples = to_uint8(reals[shown])
        progan_samples = generate(progan, SAMPLES_SHOWN, [params.seed, 9])
        dcgan_samples = generate(dcgan_trainer.generator, SAMPLES_SHOWN, [params.seed, 9])
        save_samples_figure(paths.FIGURES / "progan_samples.png", real_samples, progan_samples, "ProGAN")
        save_samples_figure(paths.FIGURES / "dcgan_samples.png", real_samples, dcgan_samples, "DCGAN (unseen)")
        write_progan_reports(progan_trainer, Path(settings.generator_path) if settings.generator_path else None)
        write_dcgan_reports(dcgan_trainer)
    return {
        "progan_phases": progan_trainer.state.phase_seconds if progan_trainer else {},
        "dcgan_training_seconds": dcgan_trainer.state.seconds,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="gandct augment", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    setup_logging()
    params = load_params()
    # Grappler's remapper cannot fuse a convolution whose output the double gradient of the WGAN-GP penalty
    # also needs; it gives up on that graph (harmlessly) with an error-level log line. Skip the attempt.
    tf.config.optimizer.set_experimental_options({"remapping": False})
    timer = PhaseTimer()
    with timer.phase("total"):
        recorded = augment(params, timer)
        with timer.phase("reference workload"):
            reference = reference_workload()
    for name, seconds in timer.seconds.items():
        log.info("time: %-20s %7.1f s", name, seconds)
    for name, seconds in recorded["progan_phases"].items():
        log.info("time: progan %-14s %7.1f s", name, seconds)
    log.info("reference workload: %.3f s (%.1f GMAC/s)", reference["seconds"], reference["gmacs_per_second"])
    timings = {"seconds": timer.seconds, **recorded, "reference_workload": reference}
    write_text(paths.AUGMENT_REPORTS / "timings.json", json.dumps(timings, indent=2) + "\n")


if __name__ == "__main__":
    run_command("augment", main)
