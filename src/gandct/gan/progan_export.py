"""A trained ProGAN's moving-average generator as a Keras model of built-in layers: the form the progan stage
saves, which needs no gandct to load."""

from __future__ import annotations

import math

import keras
import numpy as np

from gandct.gan.layers import EqualizedConv2D, EqualizedDense, PixelNorm
from gandct.gan.progan import ProGAN


def export_generator(gan: ProGAN) -> keras.Model:
    """The moving-average generator at the final resolution, rebuilt from built-in Keras layers.

    Equalised weights are folded into ordinary Dense / Conv2D weights (the run-time scale multiplied in),
    pixel norm becomes UnitNormalization times sqrt(features), reflection padding becomes crops and
    concatenations: the .keras file loads with `safe_mode=True` in a Python that has never imported gandct.
    """
    config = gan.config
    blocks = gan.average_blocks
    names = ["base"] + [f"block{res}" for res in gan.resolutions[1:]] + [f"to_rgb{config.resolution}"]
    latent = keras.Input((config.latent_size,), name="latent")
    x = latent
    for name in names:
        for layer in blocks[name].layers[1:]:  # a block is a chain of layers after its input
            x = _builtin(layer, x, f"{name}_{layer.name}")
    return keras.Model(latent, x, name="progan_generator")


def _builtin(layer: keras.layers.Layer, x: object, name: str) -> object:
    """Apply the built-in equivalent of one block layer to `x`, with the same weights."""
    if isinstance(layer, EqualizedDense):
        dense = keras.layers.Dense(layer.units, name=name)
        out = dense(x)
        dense.set_weights([layer.kernel.numpy() * np.float32(layer.scale), layer.bias.numpy()])
        return out
    if isinstance(layer, EqualizedConv2D):
        reflect = layer.padding == "reflect" and layer.kernel_size > 1
        if reflect:
            x = _reflect_pad(x, layer.kernel_size // 2, name)
        conv = keras.layers.Conv2D(layer.filters, layer.kernel_size, padding="valid" if reflect else "same", name=name)
        out = conv(x)
        conv.set_weights([layer.kernel.numpy() * np.float32(layer.scale), layer.bias.numpy()])
        return out
    if isinstance(layer, PixelNorm):
        # x / sqrt(mean(x^2)) = x / sqrt(sum(x^2)) * sqrt(features); the epsilon differs (1e-8 on the mean
        # there, a 1e-12 floor on the norm here): a relative change below float32 rounding for real features.
        unit = keras.layers.UnitNormalization(axis=-1, name=f"{name}_unit")(x)
        return keras.layers.Rescaling(math.sqrt(x.shape[-1]), name=name)(unit)
    if type(layer).__module__.startswith("keras."):
        return type(layer).from_config({**layer.get_config(), "name": name})(x)
    raise TypeError(f"no built-in Keras equivalent for layer {layer.name} ({type(layer).__name__})")


def _reflect_pad(x: object, half: int, name: str) -> object:
    """Pad height and width by `half` pixels mirrored about the edge (as `mode="reflect"`), from crops."""
    for axis in (1, 2):
        size = x.shape[axis]
        mirrored = [*range(half, 0, -1), *range(size - 2, size - 2 - half, -1)]  # the rows before, then after
        rows = []
        for index in mirrored:
            keep = (index, size - 1 - index)
            crop = (keep, (0, 0)) if axis == 1 else ((0, 0), keep)
            rows.append(keras.layers.Cropping2D(crop, name=f"{name}_pad{axis}_{len(rows)}")(x))
        x = keras.layers.Concatenate(axis=axis, name=f"{name}_pad{axis}")([*rows[:half], x, *rows[half:]])
    return x
