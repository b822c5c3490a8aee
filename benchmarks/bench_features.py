"""Speed and memory of the features stage, measured side by side in one run on the same images.

For PNG images cut from the photographs bundled with the project's dependencies, at 64x64 and 256x256:

    decode       the floor: read and decode every image in the stage's worker pool, nothing else
                 (also shown in one process, for the speed-up the pool gives)
    decode+write the floor of any stage that caches its results: decode every image in the pool and write
                 rows of the outputs' size (zeros) into fresh .npy files, as the stage's jobs do
    naive        one image at a time in one process: read, DCT, log, save one .npy file per image
    stage        the features stages' own code path, split after split in one worker pool: framed uint8
                 images, log spectra, labels and ids of every split, and the train statistics

Each method runs once per round, back to back in rotating order; the table shows each method's median
over the rounds and the median (and range) of the per-round ratios stage/decode (targets: >= 0.70 at 64 px,
>= 0.60 at 256 px), stage/decode+write and stage/naive (target >= 5 at 64 px), which stay meaningful on a
shared machine whose load changes between rounds. Then the train split's stage runs as a process on N and
4N listed images and its peak resident memory is shown for both.

    python benchmarks/bench_features.py [--count64 N] [--count256 N] [--rounds R]   (or: make bench)
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")  # the stage's progress bars would interleave with the table

import cv2
import numpy as np
import scipy.fft
import yaml

from gandct import paths
from gandct.dct import Preprocessing, frame_image
from gandct.fileio import write_csv
from gandct.images import load_rgb, save_png
from gandct.logs import setup_logging
from gandct.stages.download import SAMPLE_PHOTOS
from gandct.stages.features import (
    SplitArrays,
    build_split,
    create_arrays,
    job_size,
    split_generators,
    split_items,
    write_rows,
)
from gandct.workers import worker_pool

log = logging.getLogger("bench_features")

REPO = Path(__file__).resolve().parents[1]
COLUMNS = ["path", "label", "split", "group", "generator", "sha256"]
SPLIT_CYCLE = ("train",) * 14 + ("val",) * 3 + ("test",) * 3  # 70 / 15 / 15


def make_images(folder: Path, count: int, size: int, seed: int) -> list[Path]:
    """`count` PNG images of `size` px: random square crops of the bundled photos, scaled down to size."""
    rng = np.random.default_rng(seed)
    photos = [load_rgb(resources.files(package) / inside) for _, package, inside in SAMPLE_PHOTOS]
    photos = [photo for photo in photos if min(photo.shape[:2]) >= size]
    folder.mkdir(parents=True)
    files = []
    for index in range(count):
        photo = photos[index % len(photos)]
        height, width = photo.shape[:2]
        side = int(rng.integers(size, min(height, width, 2 * size) + 1))
        top, left = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
        crop = cv2.resize(photo[top : top + side, left : left + side], (size, size), interpolation=cv2.INTER_AREA)
        files.append(folder / f"{index:06d}.png")
        save_png(files[-1], crop)
    return files


def listings(files: list[Path]) -> tuple[list[dict], list[dict]]:
    """Manifest and generated rows as the pipeline writes them: half reals, half fakes, all splits used."""
    manifest, generated = [], []
    for index, file in enumerate(files):
        row = {"path": str(file), "group": file.stem, "sha256": "", "split": SPLIT_CYCLE[(index // 2) % 20]}
        if index % 2 == 0:
            manifest.append({**row, "label": "real", "generator": ""})
        else:
            unseen = row["split"] == "test" and index % 4 == 1
            generated.append({**row, "label": "fake", "generator": "dcgan" if unseen else "progan"})
    return manifest, generated


def split_listings(generated: list[dict], split: str) -> dict[Path, list[dict]]:
    """The listings the features stage reads for `split` under train.fakes [progan], from the generated rows
    (the auto-encoder families have none here: their sets hold the test reals alone)."""
    return {
        paths.generated_listing(gan): [row for row in generated if row["generator"] == gan]
        for gan in split_generators(split, ["progan"])
    }


def decode_paths(files: list[str]) -> int:
    return sum(load_rgb(path).shape[0] for path in files)


def decode_only(files: list[str], workers: int, chunk_size: int) -> None:
    with worker_pool(workers, "gandct.stages.features") as run:
        for _ in run(decode_paths, [files[i : i + chunk_size] for i in range(0, len(files), chunk_size)]):
            pass


def decode_and_write(job: tuple[list[str], SplitArrays, int, tuple[int, int, int]]) -> None:
    files, arrays, start, shape = job
    decode_paths(files)
    write_rows(arrays.pixels, arrays.pixels_offset, start, np.zeros((len(files), *shape), np.uint8))
    write_rows(arrays.dct, arrays.dct_offset, start, np.zeros((len(files), *shape), np.float32))


def decode_write(
    items: dict[str, list], shape: tuple[int, int, int], folder: Path, workers: int, chunk_size: int
) -> None:
    """Every split's images decoded and rows of the stage's output size written, in the stage's jobs."""
    with worker_pool(workers, "gandct.stages.features") as run:
        for split, listed in items.items():
            (folder / split).mkdir(parents=True)
            arrays = create_arrays(folder / split, len(listed), shape)
            size = job_size(len(listed), chunk_size, workers)
            files = [item.path for item in listed]
            jobs = [(files[start : start + size], arrays, start, shape) for start in range(0, len(files), size)]
            for _ in run(decode_and_write, jobs):
                pass


def stage(items: dict[str, list], preprocessing: Preprocessing, folder: Path, workers: int, chunk_size: int) -> None:
    """Every split as its features stage writes it (`dvc repro` runs them one after the other)."""
    with worker_pool(workers, "gandct.stages.features") as run:
        for split, listed in items.items():
            (folder / split).mkdir(parents=True)
            build_split(split, listed, preprocessing, folder / split, run, chunk_size, workers)


def naive(files: list[str], preprocessing: Preprocessing, folder: Path) -> None:
    """The original notebook's loop: one image at a time, one output file per image."""
    folder.mkdir()
    for index, path in enumerate(files):
        image = frame_image(load_rgb(path), preprocessing).astype(np.float64)
        spectrum = np.log(np.abs(scipy.fft.dctn(image, type=2, norm="ortho", axes=(0, 1))) + preprocessing.eps)
        np.save(folder / f"{index:06d}.npy", spectrum)


def round_rates(
    methods: dict[str, Callable[[Path], None]], count: int, rounds: int, scratch: Path
) -> dict[str, list[float]]:
    """Images per second of each method in each round; within a round the methods run back to back, in an
    order that rotates from round to round, so a ratio taken within one round compares like with like."""
    names = list(methods)
    rates: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(rounds):
        for name in names[round_index % len(names) :] + names[: round_index % len(names)]:
            with tempfile.TemporaryDirectory(dir=scratch) as out:
                start = time.perf_counter()
                methods[name](Path(out) / "out")
                rates[name].append(count / (time.perf_counter() - start))
    return rates


def ratio_cell(numerator: list[float], denominator: list[float], digits: int) -> str:
    """Median of the per-round ratios, and their range."""
    ratios = sorted(a / b for a, b in zip(numerator, denominator, strict=True))
    return f"{np.median(ratios):.{digits}f} ({ratios[0]:.{digits}f}-{ratios[-1]:.{digits}f})"


def speed_row(size: int, count: int, rounds: int, workers: int, chunk_size: int, scratch: Path) -> str:
    """One table row: every method on `count` fresh images of `size` px."""
    files = make_images(scratch / f"images{size}", count, size, seed=size)
    manifest, generated = listings(files)
    detection = [split for split in paths.FEATURE_SPLITS if split not in paths.ATTRIBUTION_SPLITS]
    items = {split: split_items(manifest, split_listings(generated, split), split) for split in detection}
    rows = [item.path for split in items.values() for item in split]  # what the stages read, test reals twice
    for path in rows:  # every method starts from the page cache
        Path(path).read_bytes()
    preprocessing = Preprocessing(size, "center", "gray", None, 1e-3)
    methods = {
        "decode, 1 process": lambda out: decode_only(rows, 1, chunk_size),
        "decode": lambda out: decode_only(rows, workers, chunk_size),
        "decode+write": lambda out: decode_write(items, preprocessing.shape, out, workers, chunk_size),
        "naive": lambda out: naive(rows, preprocessing, out),
        "stage": lambda out: stage(items, preprocessing, out, workers, chunk_size),
    }
    log.info("%dx%d: %d images, %d rounds", size, size, len(rows), rounds)
    rates = round_rates(methods, len(rows), rounds, scratch)
    medians = " | ".join(f"{np.median(rates[name]):.0f}" for name in methods)
    return (
        f"| {size}x{size} gray | {len(rows)} | {medians} "
        f"| {ratio_cell(rates['stage'], rates['decode'], 2)} | {ratio_cell(rates['stage'], rates['decode+write'], 2)} "
        f"| {ratio_cell(rates['stage'], rates['naive'], 1)} |"
    )


def peak_rss(count: int, files: list[Path], workers: int, chunk_size: int, scratch: Path) -> tuple[float, float]:
    """Peak RSS in MiB of the stage process and of its largest worker, on `count` rows of `files`."""
    project = scratch / f"project{count}"
    (project / "data/interim").mkdir(parents=True)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["features"].update(image_size=64, color="gray", crop="center", workers=workers, chunk_size=chunk_size)
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    manifest, generated = listings([files[index % len(files)] for index in range(count)])
    write_csv(project / "data/interim/manifest.csv", COLUMNS, manifest)
    for generator in ("progan", "dcgan"):
        listed = [row for row in generated if row["generator"] == generator]
        write_csv(project / paths.generated_listing(generator), COLUMNS, listed)
    probe = (
        "import resource\nfrom gandct.stages.features import main\nmain(['train'])\n"
        # Workers are children of the fork server: reap it (a private hook, the public API has none) so
        # that RUSAGE_CHILDREN counts the server and the workers it reaped.
        "import multiprocessing.forkserver\nmultiprocessing.forkserver._forkserver._stop()\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
        "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=project, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"the stage failed on {count} images:\n{result.stderr}")
    main_kib, worker_kib = map(int, result.stdout.split()[-2:])
    return main_kib / 1024, worker_kib / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count64", type=int, default=3000, help="64x64 images (default 3000)")
    parser.add_argument("--count256", type=int, default=400, help="256x256 images (default 400)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of every method (default 5)")
    parser.add_argument("--memory-count", type=int, default=1000, help="N of the N / 4N memory runs (default 1000)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--chunk-size", type=int, default=64, help="images per job (default 64)")
    args = parser.parse_args()
    setup_logging()
    out = [
        "",
        f"features stage throughput, images/s: median of {args.rounds} rounds on the same images; ratios: median",
        f"(min-max) of the per-round ratios. decode, decode+write, stage: {args.workers} worker processes; naive: one",
        "process.",
        "",
        "| images | rows | decode, 1 process | decode (floor) | decode+write | naive loop | stage "
        "| stage / decode (>= 0.70 at 64, 0.60 at 256) | stage / decode+write | stage / naive (>= 5 at 64) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory(prefix="bench-features-") as scratch_name:
        scratch = Path(scratch_name)
        for size, count in ((64, args.count64), (256, args.count256)):
            out.append(speed_row(size, count, args.rounds, args.workers, args.chunk_size, scratch))
        n = args.memory_count
        log.info("peak memory: the stage on %d and %d images of 64x64", n, 4 * n)
        files = sorted((scratch / "images64").glob("*.png"))
        small, large = (peak_rss(count, files, args.workers, args.chunk_size, scratch) for count in (n, 4 * n))
    out += ["", "features@train peak RSS, MiB (64x64 gray; rows listed in all splits)", ""]
    out += ["| rows listed | stage process | largest worker |", "|---|---|---|"]
    out += [f"| {n} | {small[0]:.0f} | {small[1]:.0f} |", f"| {4 * n} | {large[0]:.0f} | {large[1]:.0f} |"]
    out += [f"| growth N -> 4N | {large[0] - small[0]:+.0f} | {large[1] - small[1]:+.0f} |", ""]
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
