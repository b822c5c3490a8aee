"""Where a detector looks on the DCT map: tf-keras-vis saliency and the high-frequency share of it.

The band profile, rank correlation and peak share of a saliency map live in `gandct.frequency_measures`,
which needs no TensorFlow.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np
from tf_keras_vis.saliency import Saliency
from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
from tf_keras_vis.utils.scores import BinaryScore

from gandct.frequency_measures import quadrants


def saliency_maps(
    model: keras.Model,
    inputs: np.ndarray,
    smooth_samples: int = 0,
    smooth_noise: float = 0.2,
    batch_size: int = 64,
    seed: int = 0,
) -> np.ndarray:
    """|d logit / d input| per coefficient (max over channels), shape (N, H, W), not normalised.

    The sigmoid is replaced by a linear activation on a clone, so gradients do not vanish on confident
    predictions; `smooth_samples` > 0 averages over noisy copies of each input (SmoothGrad), whose noise
    comes from `seed`.
    """
    explainer = Saliency(model, model_modifier=ReplaceToLinear(), clone=True)
    options = {"smooth_samples": smooth_samples, "smooth_noise": smooth_noise, "normalize_map": False}
    maps = []
    # tf-keras-vis draws the SmoothGrad noise from NumPy's global generator: seed it for the call only.
    caller_state = np.random.get_state()
    np.random.seed(seed)
    try:
        for start in range(0, len(inputs), batch_size):
            batch = np.asarray(inputs[start : start + batch_size], np.float32)
            with warnings.catch_warnings():
                # tf-keras-vis passes the single input as a one-element list, which Keras 3 warns about.
                warnings.filterwarnings("ignore", message="The structure of `inputs` doesn't match")
                maps.append(explainer(BinaryScore(True), batch, **options))
    finally:
        np.random.set_state(caller_state)
    return np.concatenate(maps).astype(np.float32)


def quadrant_shares(maps: np.ndarray) -> dict[str, float]:
    """Mean share of each map's saliency mass in each quadrant of the DCT map (`frequency_measures.quadrants`);
    uniform maps give 0.25 each."""
    totals = maps.sum(axis=(1, 2))
    usable = totals > 0
    return {
        name: float(np.mean(part.sum(axis=(1, 2))[usable] / totals[usable])) for name, part in quadrants(maps).items()
    }


def high_frequency_share(maps: np.ndarray) -> float:
    """Mean share of each map's saliency mass in the bottom-right (highest-frequency) quadrant.

    A map spread evenly over the spectrum gives 0.25.
    """
    return quadrant_shares(maps)["high"]
