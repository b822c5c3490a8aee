"""Time the progan and dcgan stages' phases with the default params on a small set of real patches.

By default each ProGAN phase and the DCGAN run a few steps: the table shows the first step (tracing
the graph) apart from the mean time of the following steps, the images per second and the step's
multiply-adds per second (counted on the step's graph by TensorFlow's profiler, forward and backward
passes, penalty included), and projects the whole phase at the params' length. `--full` trains
everything for real instead and shows the measured times. `--levers` times the ProGAN step at every
resolution with and without XLA (`jit_compile`) and the lazy gradient penalty (`gp_interval`), side
by side in one run. A fixed reference workload is timed before and after, so that figures taken on a
busy machine can be read by their ratio to it: GMAC/s of a step over the reference's GMAC/s is how
close training runs to what the machine gives a plain chain of convolutions.

    python benchmarks/bench_augment.py [--steps 8] [--full | --levers] [--params params.yaml]
"""

from __future__ import annotations

import argparse
import dataclasses
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
import tensorflow as tf

from gandct.gan.dcgan import DCGANConfig, DCGANTrainer
from gandct.gan.fakes import configure_tensorflow
from gandct.gan.pixels import to_uint8, to_unit_range
from gandct.gan.progan import ProGAN, ProGANConfig
from gandct.gan.progan_export import export_generator
from gandct.gan.progan_trainer import GrowthPhase, ProGANTrainer
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


def timed_steps(step: Callable[[], object], count: int, warmup: int = 1) -> tuple[float, float]:
    """(seconds of the first `warmup` calls, which trace the graphs, mean seconds of the next `count` calls)."""
    started = time.perf_counter()
    for _ in range(warmup):
        step()
    first = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(count):
        step()
    return first, (time.perf_counter() - started) / max(count, 1)


def step_macs(trainer: ProGANTrainer, phase: GrowthPhase) -> float:
    """Multiply-adds of one training step of `phase` (half the FLOPs TensorFlow's profiler counts on its graph)."""
    function = trainer._step_functions[(phase.res, trainer.penalised(trainer.state.step))]
    graph = function.get_concrete_function(trainer.pyramid[phase.res], tf.constant(0, tf.int64), tf.constant(1.0)).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return tf.compat.v1.profiler.profile(graph, options=options).total_float_ops / 2


def sampled_rows(params: Params, reals: np.ndarray, sample_steps: int) -> list[tuple]:
    """Rows (phase, steps, batch, first s, ms per step, img/s, GMAC/s, projected s) from a few steps of each phase."""
    rows = []
    trainer = ProGANTrainer(ProGAN(ProGANConfig.from_params(params.augment, params.seed)), reals)
    for phase in trainer.phases:
        steps = phase.steps
        if steps == 0:
            rows.append((f"progan {phase.name}", 0, phase.batch_size, 0.0, 0.0, math.nan, math.nan, 0.0))
            continue
        trainer.state.phase_step = 0
        warmup = min(trainer.config.gp_interval, steps)  # traces the steps with and without the lazy penalty
        count = min(sample_steps, steps - warmup)
        first, per_step = timed_steps(lambda phase=phase: trainer.run_step(phase), count, warmup)
        projected = first + per_step * (steps - warmup)
        gmacs = step_macs(trainer, phase) / 1e9
        rows.append(
            (
                f"progan {phase.name}",
                steps,
                phase.batch_size,
                first,
                per_step * 1e3,
                phase.batch_size / per_step,
                gmacs / per_step,
                projected,
            )
        )
    dcgan = DCGANTrainer(DCGANConfig.from_params(params.augment, params.seed), reals)
    first, per_step = timed_steps(lambda: dcgan.run_step(dcgan.phases[0]), min(sample_steps * 3, dcgan.total_steps - 1))
    projected = first + per_step * (dcgan.total_steps - 1)
    batch = dcgan.config.batch_size
    rows.append(("dcgan", dcgan.total_steps, batch, first, per_step * 1e3, batch / per_step, math.nan, projected))
    rows.append(generation_row(export_generator(trainer.gan)))
    return rows


LEVERS = {
    "baseline": {},
    "jit_compile": {"jit_compile": True},
    "gp_interval 4": {"gp_interval": 4},
    "jit + gp_interval 4": {"jit_compile": True, "gp_interval": 4},
}


def lever_rows(params: Params, reals: np.ndarray, sample_steps: int, only: set[int]) -> list[tuple]:
    """Rows (phase, ms per step of each lever) from the stable phase of every resolution (or those in `only`)."""
    config = ProGANConfig.from_params(params.augment, params.seed)
    timings = {}
    for lever, change in LEVERS.items():
        variant = dataclasses.replace(config, **{"gp_interval": 1, "jit_compile": False, **change})
        trainer = ProGANTrainer(ProGAN(variant), reals)
        for phase in trainer.phases:
            if phase.fading or (only and phase.res not in only):
                continue
            for _ in range(variant.gp_interval):  # trace both step functions (with and without the penalty)
                trainer.run_step(phase)
            count = math.lcm(4, sample_steps)  # a whole number of penalty intervals
            timings[phase.name, lever] = timed_steps(
                lambda phase=phase, trainer=trainer: trainer.run_step(phase), count
            )[1]
    names = list(dict.fromkeys(name for name, _ in timings))
    return [(name, *(timings[name, lever] * 1e3 for lever in LEVERS)) for name in names]


def full_rows(params: Params, reals: np.ndarray) -> list[tuple]:
    """Rows from training every phase to its full length (several minutes)."""
    trainer = ProGANTrainer(ProGAN(ProGANConfig.from_params(params.augment, params.seed)), reals)
    trainer.train(progress=False)
    rows = []
    for phase in trainer.phases:
        seconds = trainer.state.phase_seconds.get(phase.name, 0.0)
        rows.append(
            (f"progan {phase.name}", phase.steps, phase.batch_size, math.nan, math.nan, math.nan, math.nan, seconds)
        )
    dcgan = DCGANTrainer(DCGANConfig.from_params(params.augment, params.seed), reals)
    dcgan.train(progress=False)
    seconds = sum(dcgan.state.phase_seconds.values())
    rows.append(("dcgan", dcgan.total_steps, dcgan.config.batch_size, math.nan, math.nan, math.nan, math.nan, seconds))
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
    return (
        "generate + encode fakes",
        FAKES_PER_RUN,
        256,
        math.nan,
        math.nan,
        FAKES_PER_RUN / seconds,
        math.nan,
        seconds,
    )


def table(rows: list[tuple], reference_gmacs: float) -> str:
    header = (
        f"{'phase':<24} {'steps':>6} {'batch':>5} {'first s':>8} {'ms/step':>8} {'img/s':>7} {'GMAC/s':>7} "
        f"{'vs ref':>6} {'phase s':>8}"
    )
    lines = [header, "-" * len(header)]
    for name, steps, batch, first, per_step, images, gmacs, seconds in rows:
        cells = [
            "" if math.isnan(value) else f"{value:{spec}}"
            for value, spec in ((first, "8.2f"), (per_step, "8.1f"), (images, "7.0f"), (gmacs, "7.1f"))
        ]
        share = "" if math.isnan(gmacs) else f"{gmacs / reference_gmacs:6.2f}"
        lines.append(
            f"{name:<24} {steps:>6} {batch:>5} {cells[0]:>8} {cells[1]:>8} {cells[2]:>7} {cells[3]:>7} {share:>6} "
            f"{seconds:8.1f}"
        )
    total = sum(row[-1] for row in rows)
    lines.append(f"{'total (training + fakes)':<24} {'':>54} {total:8.1f}")
    return "\n".join(lines)


def lever_table(rows: list[tuple]) -> str:
    header = f"{'ms/step (ratio)':<20}" + "".join(f"{lever:>22}" for lever in LEVERS)
    lines = [header, "-" * len(header)]
    for name, baseline, *others in rows:
        cells = [f"{baseline:>22.1f}"] + [f"{value:>14.1f} ({value / baseline:4.2f})" for value in others]
        lines.append(f"{name:<20}" + "".join(cells))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8, help="steps timed per phase after the first (default 8)")
    modes = parser.add_mutually_exclusive_group()
    modes.add_argument("--full", action="store_true", help="train every phase to its full length")
    modes.add_argument("--levers", action="store_true", help="time the step with and without XLA and the lazy penalty")
    parser.add_argument(
        "--lever-resolutions", type=int, nargs="*", default=[], help="--levers: only these (default all)"
    )
    parser.add_argument("--params", type=Path, default=ROOT / "params.yaml", help="params file (default: the repo's)")
    parser.add_argument("--patches", type=int, default=64, help="real patches per bundled photo (default 64)")
    args = parser.parse_args()
    configure_tensorflow()  # as the stages do
    tf.get_logger().setLevel("ERROR")  # the graph profiler's deprecation warnings

    params = load_params(args.params)
    reals = real_patches(params.augment.resolution, args.patches, params.seed)
    before = reference_workload()
    started = time.perf_counter()
    if args.levers:
        rows = lever_rows(params, reals, args.steps, set(args.lever_resolutions))
    else:
        rows = full_rows(params, reals) if args.full else sampled_rows(params, reals, args.steps)
    wall = time.perf_counter() - started
    after = reference_workload()

    if args.levers:
        mode = "levers: stable phases, mean of the timed steps after tracing"
    else:
        mode = "measured in full" if args.full else f"first step + {args.steps} timed steps per phase, projected"
    out = sys.stdout
    out.write(f"GAN stages benchmark: params of {args.params}, {len(reals)} real patches ({mode})\n\n")
    reference = (before["gmacs_per_second"] + after["gmacs_per_second"]) / 2
    out.write((lever_table(rows) if args.levers else table(rows, reference)) + "\n\n")
    out.write(
        f"reference workload (3.0 GMAC of 3x3 convolutions): before {before['seconds']:.3f} s "
        f"({before['gmacs_per_second']:.1f} GMAC/s), after {after['seconds']:.3f} s "
        f"({after['gmacs_per_second']:.1f} GMAC/s)\n"
    )
    out.write(f"benchmark wall time {wall:.1f} s\n")


if __name__ == "__main__":
    main()
