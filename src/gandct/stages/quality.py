"""quality stage: how close each generator's fakes come to the train reals, by the multi-scale sliced
Wasserstein distance of the ProGAN paper (`gandct.swd`), as a ratio to the distance between two sets of reals;
and how close each auto-encoder family's twins come to their own photos, by PSNR.

Reads the train and test reals of `data/interim/manifest.csv` and the fakes listed in
`data/interim/generated/<gan>.csv` (gan: progan, dcgan), each in the view the GANs learn from (`features.crop` at
`augment.resolution`, `images.view`). One half of a seeded sample of the train reals is the
reference; against it: the other half (the floor), the test reals (other photographs), and each generator's
fakes, every set of the same size. Each family's twins of the test reals (`generated/autogan_<family>.csv`)
are compared with their photos pixel by pixel, at the photo's own size. Writes `reports/augment/quality.json`
(per GAN: SWD x 1e3 per pyramid level, their average, and its ratio to the floor; per family: the median,
10th and 90th percentile of the twins' PSNR), its headline `reports/augment/quality_metrics.json` (the DVC
metrics: one number per generator) and `reports/figures/gan_quality.png`.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers

import matplotlib.pyplot as plt
import numpy as np

from gandct import paths
from gandct.entry import run_command
from gandct.errors import GandctError
from gandct.figures import save_figure
from gandct.fileio import read_csv, write_text
from gandct.images import ImageError, load_rgb, view
from gandct.logs import progress, setup_logging
from gandct.params import Params, load_params
from gandct.swd import multiscale_swd, pyramid_sides
from gandct.twins import twin_pairs

log = logging.getLogger(__name__)

GENERATORS = ("progan", "dcgan")
FLOOR = "floor"  # the other half of the train reals
TEST_REALS = "test_reals"
HEADLINE_SWD, HEADLINE_PSNR = "ratio_to_floor", "psnr_median"  # quality_metrics.json's number per generator


def load_set(rows: list[dict[str, str]], side: int, crop: str, name: str) -> np.ndarray:
    """Decode the images of `rows` and take the view of every stage (`images.view`): uint8 (N, side, side, 3)."""
    images = np.empty((len(rows), side, side, 3), dtype=np.uint8)
    for index, row in enumerate(progress(rows, desc=f"loading {name}", unit="image", leave=False)):
        try:
            images[index] = view(load_rgb(row["path"]), side, crop, size_key="augment.resolution")
        except ImageError as err:
            raise GandctError(f"{row['path']}: {err}; run the stage that wrote it again") from None
    return images


def read_sources() -> dict[str, list[dict[str, str]]]:
    """The rows of every set to compare: train and test reals, and each generator's fakes."""
    if not paths.MANIFEST.is_file():
        raise GandctError(f"{paths.MANIFEST} not found; run the prepare stage first (make data)")
    manifest = read_csv(paths.MANIFEST)
    sources = {
        split: [row for row in manifest if row["split"] == split and row["label"] == "real"]
        for split in ("train", "test")
    }
    for gan in GENERATORS:
        listing = paths.generated_listing(gan)
        if not listing.is_file():
            raise GandctError(f"{listing} not found; run the {gan} stage first")
        sources[gan] = [row for row in read_csv(listing) if row["label"] == "fake"]
    return sources


def twin_psnr(reals: list[dict[str, str]], generator: str) -> dict[str, float]:
    """PSNR (dB) of the twin that `generator` (an auto-encoder family or a third-party generator) made of every
    test real against that real: median, p10, p90 and the pair count."""
    listing = paths.generated_listing(generator)
    if not listing.is_file():
        raise GandctError(f"{listing} not found; run its stage first (dvc repro {paths.generator_stage(generator)})")
    twins = [row for row in read_csv(listing) if row["split"] == "test"]
    rows = [{"path": row["path"], "label": "0"} for row in reals] + [
        {"path": row["path"], "label": "1"} for row in twins
    ]
    pairs = twin_pairs(rows)
    if not pairs:
        raise GandctError(f"{listing} holds no twin of a test real; run dvc repro {paths.generator_stage(generator)}")
    values = np.array([psnr(load_rgb(rows[real]["path"]), load_rgb(rows[twin]["path"])) for real, twin in pairs])
    p10, median, p90 = np.percentile(values, [10, 50, 90])
    return {"psnr_median": round(median, 2), "psnr_p10": round(p10, 2), "psnr_p90": round(p90, 2), "pairs": len(pairs)}


def psnr(image: np.ndarray, reference: np.ndarray) -> float:
    """Peak signal-to-noise ratio (dB, peak 255) of a uint8 image against its uint8 reference of the same shape."""
    if image.shape != reference.shape:
        raise GandctError(f"a twin of shape {image.shape} for a photo of shape {reference.shape}")
    mse = np.mean((image.astype(np.float64) - reference.astype(np.float64)) ** 2)
    return float(10.0 * np.log10(255.0**2 / mse)) if mse else float("inf")


def set_size(sources: dict[str, list[dict[str, str]]], wanted: int) -> int:
    """Images per set: `wanted`, or fewer if a set (the train reals counted as two halves) has fewer."""
    available = {name: len(rows) // 2 if name == "train" else len(rows) for name, rows in sources.items()}
    count = min(wanted, *available.values())
    if count < 2:
        raise GandctError(f"too few images to compare, per set: {available} (train reals: per half); need >= 2")
    if count < wanted:
        log.info("%d images per set (asked for %d; available: %s, train reals per half)", count, wanted, available)
    return count


def measure(params: Params) -> dict[str, object]:
    """The SWD of the floor, the test reals and each generator's fakes against one half of the train reals."""
    settings = params.quality
    sources = read_sources()
    count = set_size(sources, settings.images_per_set)
    rng = np.random.default_rng([params.seed, 12])
    chosen = {
        name: [rows[i] for i in rng.permutation(len(rows))[: 2 * count if name == "train" else count]]
        for name, rows in sources.items()
    }
    side = params.augment.resolution
    train = load_set(chosen.pop("train"), side, params.features.crop, "train reals")
    reference, others = train[:count], {FLOOR: train[count:]}
    others[TEST_REALS] = load_set(chosen.pop("test"), side, params.features.crop, "test reals")
    others |= {gan: load_set(rows, side, params.features.crop, f"{gan} fakes") for gan, rows in chosen.items()}
    started = time.perf_counter()
    distances = multiscale_swd(
        reference,
        others,
        seed=params.seed,
        neighbourhoods=settings.neighbourhoods,
        directions=settings.directions,
        repeats=settings.repeats,
    )
    log.info("SWD of %d sets of %d images in %.1f s", len(others), count, time.perf_counter() - started)
    sides = pyramid_sides(side)
    floor = float(distances[FLOOR].mean())
    if floor <= 0:
        raise GandctError("the two halves of the train reals are the same images; the floor is 0")
    results: dict[str, object] = {"images_per_set": count}  # scalars only: DVC metrics show no lists
    for name, per_level in distances.items():
        entry = {f"swd_{level}": round(float(value), 4) for level, value in zip(sides, per_level, strict=True)}
        entry["swd_avg"] = round(float(per_level.mean()), 4)
        if name != FLOOR:
            entry["ratio_to_floor"] = round(float(per_level.mean()) / floor, 3)
        results[name] = entry
    test_reals = [row for row in read_csv(paths.MANIFEST) if row["split"] == "test" and row["label"] == "real"]
    for generator in (*paths.AUTOGAN_GENERATORS, *paths.THIRD_PARTY_GENERATORS):
        results[generator] = twin_psnr(test_reals, generator)
    return results


def plot_quality(results: dict[str, object], sides: list[int], path: Path) -> None:
    """Bars of SWD x 1e3 per pyramid level and their average, one colour per set; the floor also as a line."""
    columns = [*(f"swd_{level}" for level in sides), "swd_avg"]
    labels = [*(f"{level}x{level}" for level in sides), "average"]
    names = [FLOOR, TEST_REALS, *GENERATORS]
    captions = {FLOOR: "floor: train reals, other half", TEST_REALS: "test reals (other photos)"}
    width = 0.8 / len(names)
    figure, axis = plt.subplots(figsize=(7.5, 4.2), layout="constrained")
    positions = np.arange(len(columns))
    for index, name in enumerate(names):
        entry = results[name]
        caption = captions.get(name, f"{name} fakes")
        if name != FLOOR:
            caption += f" ({entry['ratio_to_floor']:.1f}x floor)"
        values = [entry[column] for column in columns]
        axis.bar(positions + (index - (len(names) - 1) / 2) * width, values, width, label=caption, color=f"C{index}")
    for position, column in zip(positions, columns, strict=True):
        axis.hlines(results[FLOOR][column], position - 0.45, position + 0.45, colors="black", linestyles="dashed")
    axis.plot([], [], "k--", label="floor")
    axis.set_xticks(positions, labels)
    axis.set(
        yscale="log",
        xlabel="Laplacian pyramid level",
        ylabel="SWD x 1e3 to the train reals (log)",
        title=f"Generator quality: sliced Wasserstein distance, {results['images_per_set']} images per set",
    )
    axis.legend(fontsize=8)
    axis.grid(axis="y", alpha=0.3, which="both")
    save_figure(figure, path)


def headline(results: dict) -> dict[str, dict[str, float]]:
    """The one number per generator that `dvc metrics show` and `gandct compare` show: a GAN's SWD ratio to the
    floor, a twin or third-party set's median PSNR against its photos."""
    return {
        name: {key: entry[key]}
        for name, entry in results.items()
        if isinstance(entry, dict)
        for key in (HEADLINE_SWD, HEADLINE_PSNR)
        if key in entry and name != TEST_REALS
    }


def main(argv: list[str] | None = None) -> None:
    """Run the stage: measure the fakes and twins and write quality.json, its headline and its figure."""
    parser = argparse.ArgumentParser(prog="gandct quality", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    setup_logging()
    params = load_params()
    results = measure(params)
    for name in (TEST_REALS, *GENERATORS):
        entry = results[name]
        log.info("%-10s SWD avg %8.2f = %.2fx the floor", name, entry["swd_avg"], entry["ratio_to_floor"])
    log.info("%-10s SWD avg %8.2f", FLOOR, results[FLOOR]["swd_avg"])
    for family in paths.AUTOGAN_GENERATORS:
        entry = results[family]
        log.info("%s twins: PSNR median %.2f dB (p10 %.2f)", family, entry["psnr_median"], entry["psnr_p10"])
    write_text(paths.GAN_QUALITY, json.dumps(results, indent=2) + "\n")
    write_text(paths.GAN_QUALITY_METRICS, json.dumps(headline(results), indent=2) + "\n")
    plot_quality(results, pyramid_sides(params.augment.resolution), paths.GAN_QUALITY_FIGURE)


if __name__ == "__main__":
    run_command("quality", main)
