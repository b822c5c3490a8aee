"""Data-set scale on one machine: download, prepare and features on a synthetic folder source of N and 4N images.

The source is a `data.source: folder` of 128x128 PNG files (`--size`), half real-like (smooth, with a decaying
spectrum) and half fake-like (the same with an up-sampling checkerboard), written with the project's own PNG
encoder, read in the 64 px resize view (`--image-size`). In a temporary project each stage runs as its own
process, as `dvc repro` runs it: `gandct download`, `gandct prepare`, `gandct features <split>` for every
detection split (the folder's own fakes are the fakes; the GAN stages are not run, so their listings are
written empty). For each stage the table shows images per second and peak resident memory (the stage process
and its largest worker) at N and 4N: flat memory means nothing holds all images at once. Then the feature
cache's bytes per image and the projected hours and disk for 500,000 images, and prepare's file checking the
old way (a thread pool in one process) beside the stage's process pool, on the same files.

    python benchmarks/bench_scale.py [--count N] [--workers W] [--size S]   (make bench: N = 1250, S = 128)
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")  # the stages' progress bars would interleave with the table

import cv2
import numpy as np
import yaml

from gandct import paths
from gandct.fileio import read_csv, write_csv
from gandct.images import save_png
from gandct.logs import setup_logging
from gandct.stages.prepare import CHUNK_SIZE, CheckJob, check_file, run_check
from gandct.workers import worker_pool

log = logging.getLogger("bench_scale")

REPO = Path(__file__).resolve().parents[1]
PROJECTED = 500_000
LISTING_COLUMNS = ["path", "label", "split", "group", "generator", "sha256"]
# Runs one stage's main() and prints the peak RSS (KiB) of the process and of its reaped children.
PROBE = """
import importlib, multiprocessing.forkserver, resource, sys
from gandct.cli import COMMANDS
importlib.import_module(COMMANDS[sys.argv[1]][0]).main(sys.argv[2:])
# Workers are children of the fork server: stop it (a private hook, the public API has none) so that
# RUSAGE_CHILDREN counts the server and the workers it reaped.
multiprocessing.forkserver._forkserver._stop()
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


# The detection feature sets: the attribution sets need the GANs' fakes, which this benchmark does not make.
SPLITS = [split for split in paths.FEATURE_SPLITS if split not in paths.ATTRIBUTION_SPLITS]


def smooth_image(rng: np.random.Generator, size: int) -> np.ndarray:
    """A real-like 8-bit RGB image: cubic up-sampled noise, a spectrum that decays with frequency."""
    noise = rng.normal(size=(size // 8, size // 8, 3))
    smooth = cv2.resize(noise, (size, size), interpolation=cv2.INTER_CUBIC) + 0.05 * rng.normal(size=(size, size, 3))
    return ((smooth - smooth.min()) / (np.ptp(smooth) + 1e-9) * 255).astype(np.uint8)


def make_source(folder: Path, count: int, seed: int, size: int) -> int:
    """`count` PNG files under folder/real and folder/fake (every other one fake-like); return their bytes."""
    rng = np.random.default_rng(seed)
    rows, cols = np.indices((size, size))
    checkerboard = np.where((rows + cols) % 2, 12, -12)[:, :, None]
    for label in ("real", "fake"):
        (folder / label).mkdir(parents=True)
    total = 0
    for index in range(count):
        image = smooth_image(rng, size)
        label = "fake" if index % 2 else "real"
        if label == "fake":
            image = np.clip(image.astype(int) + checkerboard, 0, 255).astype(np.uint8)
        path = folder / label / f"{index:06d}.png"
        save_png(path, image)
        total += path.stat().st_size
    return total


def make_project(root: Path, source: Path, workers: int, image_size: int) -> None:
    """params.yaml for the folder source, features at `image_size`, and the GAN stages' listings, empty (no GAN
    runs)."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"].update(source="folder", folder=str(source))
    params["features"].update(image_size=image_size, crop="resize", workers=workers)
    params["prepare"]["min_per_split"] = 1
    root.mkdir(parents=True)
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    for generator in set(paths.SPLIT_GENERATOR.values()):
        write_csv(root / paths.generated_listing(generator), LISTING_COLUMNS, [])


def run_stage(root: Path, *args: str) -> tuple[float, float, float]:
    """Run one stage in `root` as its own process: (seconds, peak RSS of the stage, of its largest child) in MiB."""
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=root, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"gandct {' '.join(args)} failed:\n{result.stderr}")
    main_kib, child_kib = map(int, result.stdout.split()[-2:])
    return seconds, main_kib / 1024, child_kib / 1024


def measure(scratch: Path, count: int, workers: int, size: int, image_size: int) -> dict:
    """Every stage on a fresh source of `count` images: per stage (images/s, RSS, worker RSS), cache bytes."""
    source, root = scratch / f"source{count}", scratch / f"project{count}"
    log.info("%d images: writing the source", count)
    source_bytes = make_source(source, count, seed=count, size=size)
    make_project(root, source, workers, image_size)
    stages = {}
    for name, args in [("download", ["download"]), ("prepare", ["prepare"])]:
        log.info("%d images: %s", count, name)
        seconds, rss, child = run_stage(root, *args)
        stages[name] = (count / seconds, rss, child)
    seconds, rss, child = 0.0, 0.0, 0.0
    for split in SPLITS:
        log.info("%d images: features %s", count, split)
        took, main_mib, child_mib = run_stage(root, "features", split)
        seconds, rss, child = seconds + took, max(rss, main_mib), max(child, child_mib)
    stages["features (all splits)"] = (count / seconds, rss, child)
    rows = sum(len(read_csv(root / paths.features_file(split, "ids.csv"))) for split in SPLITS)
    cache = sum(file.stat().st_size for file in (root / paths.PROCESSED).rglob("*") if file.is_file())
    return {"stages": stages, "cache_per_image": cache / count, "rows": rows, "source_per_image": source_bytes / count}


def check_rates(source: Path, workers: int, rounds: int) -> tuple[float, float]:
    """Files/s of prepare's checking (read, hash, decode), the old way (threads in one process) and the
    stage's way (the process pool), back to back on the same files; the best of `rounds`."""
    files = [(str(path), {"label": "", "group": "", "generator": ""}) for path in sorted(source.rglob("*.png"))]
    for path, _ in files:  # both start from the page cache
        Path(path).read_bytes()
    threads, processes = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            jobs = [pool.submit(check_file, path, row, 32) for path, row in files]
            checked = [job.result() for job in jobs]
        threads.append(len(files) / (time.perf_counter() - start))
        start = time.perf_counter()
        jobs = [CheckJob(tuple(files[i : i + CHUNK_SIZE]), 32) for i in range(0, len(files), CHUNK_SIZE)]
        with worker_pool(workers, "gandct.stages.prepare") as run:
            pooled = [item for chunk in run(run_check, jobs) for item in chunk]
        processes.append(len(files) / (time.perf_counter() - start))
        assert pooled == checked  # same results, same order
    return max(threads), max(processes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1250, help="N of the N / 4N runs (default 1250)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes of prepare and features (default 2)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the prepare comparison (default 2)")
    parser.add_argument("--size", type=int, default=128, help="side of the source images in pixels (default 128)")
    parser.add_argument(
        "--image-size", type=int, default=64, help="features.image_size, at most augment.resolution (default 64)"
    )
    args = parser.parse_args()
    image_size = args.image_size
    setup_logging()
    counts = (args.count, 4 * args.count)
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as scratch_name:
        scratch = Path(scratch_name)
        runs = {count: measure(scratch, count, args.workers, args.size, image_size) for count in counts}
        log.info("prepare's checking: threads against processes on %d files", counts[1])
        threads, processes = check_rates(scratch / f"source{counts[1]}", args.workers, args.rounds)
    small, large = (runs[count] for count in counts)
    out = [
        "",
        f"folder source of {args.size}x{args.size} PNG files (half real-like, half fake-like), features at "
        f"{image_size} px gray (resize),",
        f"{args.workers} worker processes; each stage as its own process. RSS in MiB: stage process / largest worker.",
        "",
        f"| stage | images/s at {counts[0]} | images/s at {counts[1]} | RSS at {counts[0]} | RSS at {counts[1]} |",
        "|---|---|---|---|---|",
    ]
    for name, (rate, rss, child) in small["stages"].items():
        big_rate, big_rss, big_child = large["stages"][name]
        out.append(
            f"| {name} | {rate:.0f} | {big_rate:.0f} | {rss:.0f} / {child:.0f} | {big_rss:.0f} / {big_child:.0f} |"
        )
    hours = sum(PROJECTED / rate for rate, _, _ in large["stages"].values()) / 3600
    cache, source = large["cache_per_image"], large["source_per_image"]
    out += [
        "",
        f"feature cache: {cache / 1024:.1f} KiB per source image ({large['rows']} rows for {counts[1]} images: "
        "the test reals are cached again in each test_<generator> set); source PNG files: "
        f"{source / 1024:.1f} KiB per image",
        f"projected for {PROJECTED:,} images (rates at {counts[1]}, start-up included): {hours:.1f} h for "
        "download + prepare + features, "
        f"{PROJECTED * cache / 1e9:.1f} GB of feature cache (+ {PROJECTED * source / 1e9:.1f} GB of source files)",
        "",
        f"prepare's file checking on {counts[1]} files, best of {args.rounds}: one process with {args.workers} threads "
        f"{threads:.0f} files/s, {args.workers} worker processes {processes:.0f} files/s ({processes / threads:.2f}x)",
        "",
    ]
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
