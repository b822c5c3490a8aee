"""Detector architectures: plain builder functions returning Functional `keras.Model`s.

Every model maps one input map (a z-scored log-DCT spectrum or pixels in [-1, 1]) to one sigmoid
unit, the probability that the image is fake. No Lambda layers: saved `.keras` files load with
`safe_mode=True`, and saliency tools can swap the last activation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
from keras import layers


@keras.saving.register_keras_serializable(package="gandct")
class FrequencyCoordinates(layers.Layer):
    """Append the normalised vertical and horizontal frequency index of each DCT coefficient as two
    channels (0 at the DC term, 1 at the highest frequency), so convolutions can tell where they are."""

    def call(self, inputs: keras.KerasTensor) -> keras.KerasTensor:
        batch, height, width = keras.ops.shape(inputs)[0], inputs.shape[1], inputs.shape[2]
        rows = keras.ops.linspace(0.0, 1.0, height, dtype=inputs.dtype)[None, :, None, None]
        cols = keras.ops.linspace(0.0, 1.0, width, dtype=inputs.dtype)[None, None, :, None]
        rows = keras.ops.broadcast_to(rows, (batch, height, width, 1))
        cols = keras.ops.broadcast_to(cols, (batch, height, width, 1))
        return keras.ops.concatenate([inputs, rows, cols], axis=-1)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (*input_shape[:-1], input_shape[-1] + 2)


def paper_cnn(input_shape: tuple[int, int, int], name: str = "paper") -> keras.Model:
    """The DCT CNN of Frank et al. 2020 (ICML), Sec. 4.2 and their `build_simple_cnn`.

    Deviation: one sigmoid unit for our binary real/fake task instead of their per-GAN softmax.
    """
    inputs = keras.Input(shape=input_shape, name="spectrum")
    x = layers.Conv2D(3, 3, padding="same", activation="relu")(inputs)
    x = layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = layers.AveragePooling2D(2)(x)
    x = layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = layers.AveragePooling2D(2)(x)
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(1, activation="sigmoid", name="p_fake")(x)
    return keras.Model(inputs, outputs, name=name)


def spectral_net(
    input_shape: tuple[int, int, int], name: str = "custom", width: int = 16, dropout: float = 0.3, l2: float = 1e-4
) -> keras.Model:
    """This project's detector for DCT maps: a position-aware CNN plus a linear path over every coefficient.

    - FrequencyCoordinates: GAN up-sampling traces sit at fixed frequencies, so translation invariance
      is the wrong prior; the coordinate channels let each filter respond differently per frequency.
    - Three conv blocks with batch normalisation, doubling the width and halving the map each time:
      local spectral patterns (peaks and their neighbours) summarised per frequency band.
    - A 1x1 convolution, then flatten and a dense unit: the decision keeps where in the spectrum each
      band summary came from, instead of pooling it away.
    - A linear path from every coefficient straight to the logit (the logistic-regression baseline as a
      branch): isolated single-coefficient evidence reaches the output without being blurred.
    - Dropout and L2 on the dense weights: a few thousand training images and 4096 coefficients.
    """
    regulariser = keras.regularizers.l2(l2)
    inputs = keras.Input(shape=input_shape, name="spectrum")
    x = FrequencyCoordinates()(inputs)
    for filters in (width, 2 * width, 4 * width):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        x = layers.AveragePooling2D(2)(x)
    x = layers.Conv2D(8, 1, activation="relu")(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(dropout)(x)
    cnn_logit = layers.Dense(1, kernel_regularizer=regulariser, name="cnn_logit")(x)
    linear = layers.Dropout(dropout)(layers.Flatten()(inputs))
    linear_logit = layers.Dense(1, kernel_regularizer=regulariser, name="linear_logit")(linear)
    logit = layers.Add()([cnn_logit, linear_logit])
    outputs = layers.Activation("sigmoid", name="p_fake")(logit)
    return keras.Model(inputs, outputs, name=name)


def logistic_regression(input_shape: tuple[int, int, int], weights: np.ndarray, bias: float) -> keras.Model:
    """A fitted logistic regression on flattened inputs as a Keras model (the paper's linear baseline),
    so it is saved, loaded, evaluated and explained like the CNNs."""
    inputs = keras.Input(shape=input_shape, name="spectrum")
    x = layers.Flatten()(inputs)
    dense = layers.Dense(1, activation="sigmoid", name="p_fake")
    outputs = dense(x)
    dense.set_weights([np.asarray(weights, np.float32).reshape(-1, 1), np.asarray([bias], np.float32)])
    return keras.Model(inputs, outputs, name="linear")


@dataclass(frozen=True)
class ModelSpec:
    """How to build a detector and which cached feature array it reads."""

    builder: Callable[..., keras.Model] | None  # None: fitted outside Keras (the linear baseline)
    features: str  # "dct" or "pixels"


MODELS: dict[str, ModelSpec] = {
    "paper": ModelSpec(paper_cnn, "dct"),
    "custom": ModelSpec(spectral_net, "dct"),
    "paper_pixel": ModelSpec(paper_cnn, "pixels"),
    "linear": ModelSpec(None, "dct"),
}
