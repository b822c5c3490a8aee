"""Throughput of `gandct predict` at the default input size, start-up excluded, and where its time goes.

On PNG patches cut from the bundled photographs, measured in one process after loading the model and
warming it up, each row the median of several rounds run back to back:

    decode + fit     read, decode and fit each image (the floor of any predictor)
    + features       and the DCT features with the train statistics
    predict          the whole scoring path of `gandct predict` (decode, fit, features, model, CSV rows)

It uses the pipeline's `models/detectors/custom.keras` (with its statistics and threshold) when it exists;
otherwise a freshly initialised detector of the same architecture with statistics of the benchmark
images, which costs the same to run.

    python benchmarks/bench_predict.py [--count N] [--rounds R]   (or: make bench)
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from importlib import resources
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TQDM_DISABLE", "1")

import numpy as np

from gandct.dct import DctStats, Moments, Preprocessing, dct_features, frame_images, log_spectra
from gandct.images import load_rgb, save_png
from gandct.params import load_params
from gandct.stages.download import SAMPLE_PHOTOS, cut_patches

REPO = Path(__file__).resolve().parents[1]


def make_images(folder: Path, count: int, size: int) -> list[Path]:
    """`count` PNG patches of `size` px cut from the bundled photographs."""
    rng = np.random.default_rng(0)
    photos = [load_rgb(resources.files(package) / inside) for _, package, inside in SAMPLE_PHOTOS]
    files = []
    for index in range(count):
        patch = cut_patches(photos[index % len(photos)], 1, size, rng)[0]
        files.append(folder / f"{index:05d}.png")
        save_png(files[-1], patch)
    return files


def detector(files: list[Path], preprocessing: Preprocessing):  # noqa: ANN201 - keras is imported late
    """The trained custom detector, or a fresh one of the same architecture with the images' statistics."""
    from gandct.detector import Detector
    from gandct.detector_names import DCT
    from gandct.models import spectral_net
    from gandct.paths import detector_model

    trained = REPO / detector_model("custom")
    if trained.is_file():
        return Detector.load(trained), "trained"
    framed = frame_images([load_rgb(path) for path in files], preprocessing)
    stats = DctStats.from_moments(Moments.of(log_spectra(framed, preprocessing.eps)), preprocessing)
    settings = load_params(REPO / "params.yaml").train.custom
    model = spectral_net(preprocessing.shape, width=settings.width, dropout=settings.dropout, l2=settings.l2)
    return Detector("custom", model, stats, DCT, 0.5), "untrained, same architecture"


def timed(function, rounds: int) -> float:  # noqa: ANN001 - any zero-argument callable
    """Median wall time of `rounds` calls."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1024, help="images per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    params = load_params(REPO / "params.yaml")
    preprocessing = Preprocessing.from_params(params.features)
    from gandct.commands.predict import score

    with tempfile.TemporaryDirectory() as folder:
        files = make_images(Path(folder), args.count, params.features.image_size)
        scorer, origin = detector(files, preprocessing)
        list(score(files[:256], scorer, 256, scorer.threshold))  # warm-up: traces the model once

        def decode_fit() -> np.ndarray:
            return frame_images([load_rgb(path) for path in files], preprocessing)

        rows = [
            ("decode + fit", timed(decode_fit, args.rounds)),
            ("+ features", timed(lambda: dct_features(decode_fit(), scorer.stats), args.rounds)),
            ("predict", timed(lambda: list(score(files, scorer, 256, scorer.threshold)), args.rounds)),
        ]
    print(f"predict at {preprocessing.shape}, {args.count} images, median of {args.rounds} rounds ({origin} model)")
    print(f"{'step':<14} {'images/s':>10} {'share of predict time':>22}")
    total = rows[-1][1]
    for name, seconds in rows:
        print(f"{name:<14} {args.count / seconds:>10.0f} {seconds / total:>22.0%}")


if __name__ == "__main__":
    main()
