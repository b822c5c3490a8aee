"""Wall-clock timing of a stage's phases, and a fixed reference workload to read them on a shared machine.

The machine's speed varies with what else runs on it; the reference workload (a fixed batch of 3x3
convolutions) is timed beside the phases so that two runs can be compared by their ratio to it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager

# Ten chained 3x3 convolutions of 32 images of 64x64x16 to 16 maps: 3.0 billion multiply-adds.
REFERENCE_SHAPE = (32, 64, 64, 16)
REFERENCE_LAYERS = 10
REFERENCE_MACS = REFERENCE_LAYERS * 32 * 64 * 64 * 9 * 16 * 16


class PhaseTimer:
    """Seconds per named phase, in the order the phases first ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started


def reference_workload(repeats: int = 7) -> dict[str, float]:
    """Time the fixed convolution workload: its median time in seconds and the multiply-adds per second.

    The median, not the best time: it should reflect how busy the machine is, like the phases timed beside it.
    """
    import tensorflow as tf

    images = tf.random.stateless_normal(REFERENCE_SHAPE, seed=(0, 0))
    kernel = tf.random.stateless_normal((3, 3, 16, 16), seed=(0, 1))
    kernel = kernel / 12.0  # keeps the activations from growing through the chain

    @tf.function
    def convolve() -> tf.Tensor:
        features = images
        for _ in range(REFERENCE_LAYERS):
            features = tf.nn.conv2d(features, kernel, 1, "SAME")
        return tf.reduce_sum(features)

    convolve()  # trace once, outside the timing
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        convolve().numpy()
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    return {"seconds": median, "gmacs_per_second": REFERENCE_MACS / median / 1e9}
