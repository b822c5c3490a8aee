"""Time the progan and dcgan stages' phases with the default params on a small set of real patches.

By default each ProGAN phase and the DCGAN run a few steps: the table shows the first step (tracing
the graph) apart from the mean time of the following steps, and projects the whole phase at the
params' length. `--full` trains everything for real instead and shows the measured times. A fixed
reference workload is timed before and after, so that figures taken on a busy machine can be read
by their ratio to it.

    python benchmarks/bench_augment.py [--steps 8] [--full] [--params params.yaml]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import zlib
from collections.abc import Callable
from importlib import resources
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

from gandct.gan.dcgan import DCGANConfig, DCGANTrainer
from gandct.gan.fakes import configure_tensorflow
from gandct.gan.pixels import to_uint8, to_unit_range
from gandct.gan.progan import ProGAN, ProGANConfig, ProGANTrainer, export_generator
from gandct.images import encode_png, load_rgb
from gandct.params import Params, load_params
from gandct.timing import reference_workload

ROOT = Path(__file__).resolve().parents[1]
# Real photographs shipped with scikit-image; a few patches of each make the benchmark's data set.
PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "brick.png", "grass.png")
FAKES_PER_RUN = 2090 + 450 + 450 + 450  # what the default sample data asks of the stage


def real_patches(size: int, per_photo: int, seed: int) -> np.ndarray:
    """Seeded random square patches of the bundled photographs, as float32 in [-1, 1]."""
    patches = []
    for name in PHOTOS:
        photo = load_rgb(resources.files("skimage") / "data" / name)
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        for _ in range(per_photo):
            top = int(rng.integers(0, photo.shape[0] - size + 1))
            left = int(rng.integers(0, photo.shape[1] - size + 1))
            patches.append(photo[top : top + size, left : left + size])
    return to_unit_range(np.stack(patches))


def timed_steps(step: Callable[[], object], count: int) -> tuple[float, float]:
    """(seconds of the first call, mean seconds of the next `count` calls)."""
    started = time.perf_counter()
    step()
    first = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(count):
        step()
    return first, (time.perf_counter() - started) / max(count, 1)


def sampled_rows(params: Params, reals: np.ndarray, sample_steps: int) -> list[tuple]:
    """Rows (phase, steps, batch, first s, ms per step, projected s) from a few steps of each phase."""
    rows = []
    trainer = ProGANTrainer(ProGAN(ProGANConfig.from_params(params.augment, params.seed)), reals)
    for phase in trainer.phases:
        steps = phase.steps
        if steps == 0:
            rows.append((f"progan {phase.name}", 0, phase.batch_size, 0.0, 0.0, 0.0))
            continue
        trainer.state.phase_step = 0
        first, per_step = timed_steps(lambda phase=phase: trainer.run_step(phase), min(sample_steps, steps - 1))
        projected = first + per_step * (steps - 1) if steps else 0.0
        rows.append((f"progan {phase.name}", steps, phase.batch_size, first, per_step * 1e3, projected))
    dcgan = DCGANTrainer(DCGANConfig.from_params(params.augment, params.seed), reals)
    first, per_step = timed_steps(lambda: dcgan.run_step(dcgan.phases[0]), min(sample_steps * 3, dcgan.total_steps - 1))
    projected = first + per_step * (dcgan.total_steps - 1)
    rows.append(("dcgan", dcgan.total_steps, dcgan.config.batch_size, first, per_step * 1e3, projected))
    rows.append(generation_row(export_generator(trainer.gan)))
    return rows


def full_rows(params: Params, reals: np.ndarray) -> list[tuple]:
    """Rows from training every phase to its full length (several minutes)."""
    trainer = ProGANTrainer(ProGAN(ProGANConfig.from_params(params.augment, params.seed)), reals)
    trainer.train(progress=False)
    rows = []
    for phase in trainer.phases:
        seconds = trainer.state.phase_seconds.get(phase.name, 0.0)
        rows.append((f"progan {phase.name}", phase.steps, phase.batch_size, math.nan, math.nan, seconds))
    dcgan = DCGANTrainer(DCGANConfig.from_params(params.augment, params.seed), reals)
    dcgan.train(progress=False)
    seconds = sum(dcgan.state.phase_seconds.values())
    rows.append(("dcgan", dcgan.total_steps, dcgan.config.batch_size, math.nan, math.nan, seconds))
    rows.append(generation_row(export_generator(trainer.gan)))
    return rows


def generation_row(generator: keras.Model) -> tuple:
    """Generate and PNG-encode the number of fakes the default sample data needs."""
    latents = np.random.default_rng(0).standard_normal((FAKES_PER_RUN, generator.inputs[0].shape[-1]), np.float32)
    started = time.perf_counter()
    images = to_uint8(generator.predict(latents, batch_size=256, verbose=0))
    for image in images:
        encode_png(image)
    seconds = time.perf_counter() - started
    return ("generate + encode fakes", FAKES_PER_RUN, 256, math.nan, math.nan, seconds)


def table(rows: list[tuple]) -> str:
    header = f"{'phase':<24} {'steps':>6} {'batch':>5} {'first s':>8} {'ms/step':>8} {'phase s':>8}"
    lines = [header, "-" * len(header)]
    for name, steps, batch, first, per_step, seconds in rows:
        first_text = "" if math.isnan(first) else f"{first:8.2f}"
        step_text = "" if math.isnan(per_step) else f"{per_step:8.1f}"
        lines.append(f"{name:<24} {steps:>6} {batch:>5} {first_text:>8} {step_text:>8} {seconds:8.1f}")
    total = sum(row[-1] for row in rows)
    lines.append(f"{'total (training + fakes)':<24} {'':>6} {'':>5} {'':>8} {'':>8} {total:8.1f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8, help="steps timed per phase after the first (default 8)")
    parser.add_argument("--full", action="store_true", help="train every phase to its full length")
    parser.add_argument("--params", type=Path, default=ROOT / "params.yaml", help="params file (default: the repo's)")
    parser.add_argument("--patches", type=int, default=64, help="real patches per bundled photo (default 64)")
    args = parser.parse_args()
    configure_tensorflow()  # as the stages do

    params = load_params(args.params)
    reals = real_patches(params.augment.resolution, args.patches, params.seed)
    before = reference_workload()
    started = time.perf_counter()
    rows = full_rows(params, reals) if args.full else sampled_rows(params, reals, args.steps)
    wall = time.perf_counter() - started
    after = reference_workload()

    mode = "measured in full" if args.full else f"first step + {args.steps} timed steps per phase, projected"
    out = sys.stdout
    out.write(f"GAN stages benchmark: default params of {args.params}, {len(reals)} real patches ({mode})\n\n")
    out.write(table(rows) + "\n\n")
    out.write(
        f"reference workload (3.0 GMAC of 3x3 convolutions): before {before['seconds']:.3f} s "
        f"({before['gmacs_per_second']:.1f} GMAC/s), after {after['seconds']:.3f} s "
        f"({after['gmacs_per_second']:.1f} GMAC/s)\n"
    )
    out.write(f"benchmark wall time {wall:.1f} s\n")


if __name__ == "__main__":
    main()
