"""What the GAN stages share: the train-split reals they learn from, their checkpoints, and the fakes and sample
figure each writes for its generator (the listing and timings: `gandct.gan.listing`)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from gandct import paths
from gandct.errors import GandctError
from gandct.fileio import atomic_dir, read_csv, write_csv
from gandct.gan.figures import SAMPLES_SHOWN, save_samples_figure
from gandct.gan.listing import COLUMNS, listing_row
from gandct.gan.pixels import to_uint8, to_unit_range
from gandct.gan.trainer import Checkpoint, fingerprint
from gandct.images import ImageError, encode_png, load_rgb, view
from gandct.params import Params
from gandct.timing import PhaseTimer

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")  # the manifest's splits, in the order that seeds each one's latents


def configure_tensorflow() -> None:
    """Grappler's remapper cannot fuse a convolution whose output the double gradient of the WGAN-GP penalty
    also needs; it gives up on that graph (harmlessly) with an error-level log line. Skip the attempt."""
    tf.config.optimizer.set_experimental_options({"remapping": False})


def load_train_reals(manifest: list[dict[str, str]], resolution: int, crop: str) -> tuple[np.ndarray, list[str]]:
    """The train-split real images as float32 in [-1, 1], in the view every stage takes (`images.view` with
    `features.crop`) at `resolution`, and the identity of each: its file's sha256, with the view added where
    the view changes the image. Never reads a val or test image."""
    rows = [row for row in manifest if row["split"] == "train" and row["label"] == "real"]
    if not rows:
        raise GandctError(f"{paths.MANIFEST} has no train-split real images to train the GANs on")
    images, identities = [], []
    for row in rows:
        try:
            rgb = load_rgb(row["path"])
            images.append(view(rgb, resolution, crop, size_key="augment.resolution"))
        except ImageError as err:
            raise GandctError(f"{row['path']}: {err}; run the prepare stage again (make data)") from None
        # An image already resolution x resolution is its own view under either crop: its file alone names it,
        # so a checkpoint of such data stays valid whatever features.crop says.
        same = rgb.shape[:2] == (resolution, resolution)
        identities.append(row["sha256"] if same else f"{row['sha256']} {crop} view")
    return to_unit_range(np.stack(images)), identities


def read_train_reals(
    resolution: int, crop: str, timer: PhaseTimer
) -> tuple[list[dict[str, str]], np.ndarray, list[str]]:
    """The manifest, its train reals in the view of `crop` at `resolution` and their identities; a missing
    manifest is one clear error."""
    if not paths.MANIFEST.is_file():
        raise GandctError(f"{paths.MANIFEST} not found; run the prepare stage first (make data)")
    manifest = read_csv(paths.MANIFEST)
    with timer.phase("load train reals"):
        reals, identities = load_train_reals(manifest, resolution, crop)
    log.info("training on %d train-split reals at %dx%d (view: %s)", len(reals), resolution, resolution, crop)
    return manifest, reals, identities


def checkpoint(generator: str, section: Mapping, params: Params, hashes: Sequence[str]) -> Checkpoint:
    """The checkpoint of one GAN, valid for its params section, the resolution, the seed and these images."""
    settings = {"model": generator, "seed": params.seed, "resolution": params.augment.resolution, **section}
    return Checkpoint(paths.gan_checkpoint(generator), fingerprint(settings, hashes))


def fake_counts(manifest: list[dict[str, str]], per_split: dict[str, int], splits: Sequence[str]) -> dict[str, int]:
    """Fakes per split: as many as the split has reals, unless overridden."""
    reals = Counter(row["split"] for row in manifest if row["label"] == "real")
    return {split: per_split.get(split, reals[split]) for split in splits}


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


def generate(model: keras.Model, count: int, seed: list[int]) -> np.ndarray:
    """`count` uint8 images from latent vectors drawn with `seed`."""
    latents = np.random.default_rng(seed).standard_normal((count, model.inputs[0].shape[-1]), dtype=np.float32)
    if count == 0:
        return np.zeros((0, *model.outputs[0].shape[1:]), np.uint8)
    return to_uint8(model.predict(latents, batch_size=256, verbose=0))


def write_fakes(generator: str, model: keras.Model, counts: dict[str, int], seed: int) -> None:
    """Generate each split's fakes into generated/<generator>/<split>/ (atomically) and list them."""
    rows = []
    folder = paths.generated_dir(generator)
    with atomic_dir(folder) as staging:
        for split, count in counts.items():
            (staging / split).mkdir(parents=True)
            # Seeded by the split's place among all splits, so each split's latents do not depend on the others.
            split_seed = [seed, 7, SPLITS.index(split)]
            for index, image in enumerate(generate(model, count, split_seed)):
                data = encode_png(image)
                file_name = f"{generator}_{split}_{index:05d}.png"
                (staging / split / file_name).write_bytes(data)
                # One sampling run of one generator per split: the unit that never spans two splits.
                rows.append(listing_row(generator, split, folder / split / file_name, data, f"{generator}-{split}"))
    write_csv(paths.generated_listing(generator), COLUMNS, rows)
    log.info("%s fakes: %s", generator, ", ".join(f"{split}={count}" for split, count in counts.items()))


def save_samples(generator: str, title: str, model: keras.Model, reals: np.ndarray, seed: int) -> None:
    """The samples figure: 64 train reals beside 64 fakes of `model`."""
    shown = np.random.default_rng([seed, 8]).permutation(len(reals))[:SAMPLES_SHOWN]
    fakes = generate(model, SAMPLES_SHOWN, [seed, 9])
    save_samples_figure(paths.gan_figure(generator, "samples"), to_uint8(reals[shown]), fakes, title)
