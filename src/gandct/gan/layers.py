"""The GANs' own layers: the Progressive GAN's (Karras et al. 2018, section 4): equalised learning rate,
pixel-wise feature normalisation, minibatch standard deviation, and the fade that blends a new block in; and the
fixed kernel that makes a transposed convolution a pixel shuffle (the auto-encoders' and SRResNet's up-sampler).

Only the training graphs use them; the generator the stage saves is rebuilt from built-in Keras layers
(`gandct.gan.progan_export.export_generator`), so it loads without this module.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

HE_GAIN = math.sqrt(2.0)


@keras.saving.register_keras_serializable(package="gandct")
class EqualizedDense(keras.layers.Layer):
    """Dense layer with equalised learning rate: weights ~ N(0, 1), multiplied by gain / sqrt(fan_in)."""

    def __init__(self, units: int, gain: float = HE_GAIN, seed: int | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.units = units
        self.gain = gain
        self.seed = seed

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        fan_in = int(input_shape[-1])
        self.scale = self.gain / math.sqrt(fan_in)
        self.kernel = self.add_weight(
            name="kernel",
            shape=(fan_in, self.units),
            initializer=keras.initializers.RandomNormal(stddev=1.0, seed=self.seed),
        )
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")

    def call(self, inputs: object) -> object:
        return ops.matmul(inputs, self.kernel * self.scale) + self.bias

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units, "gain": self.gain, "seed": self.seed}


@keras.saving.register_keras_serializable(package="gandct")
class EqualizedConv2D(keras.layers.Layer):
    """Square 'same' convolution with equalised learning rate (see EqualizedDense)."""

    def __init__(
        self,
        filters: int,
        kernel_size: int,
        gain: float = HE_GAIN,
        seed: int | None = None,
        padding: str = "zero",
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self.filters = filters
        self.kernel_size = kernel_size
        self.gain = gain
        self.seed = seed
        self.padding = padding

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        channels = int(input_shape[-1])
        fan_in = self.kernel_size * self.kernel_size * channels
        self.scale = self.gain / math.sqrt(fan_in)
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.kernel_size, self.kernel_size, channels, self.filters),
            initializer=keras.initializers.RandomNormal(stddev=1.0, seed=self.seed),
        )
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")

    def call(self, inputs: object) -> object:
        kernel = self.kernel * self.scale
        if self.padding == "reflect" and self.kernel_size > 1:
            half = self.kernel_size // 2
            padded = ops.pad(inputs, ((0, 0), (half, half), (half, half), (0, 0)), mode="reflect")
            return ops.conv(padded, kernel, strides=1, padding="valid") + self.bias
        return ops.conv(inputs, kernel, strides=1, padding="same") + self.bias

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (*input_shape[:-1], self.filters)

    def get_config(self) -> dict:
        config = {"filters": self.filters, "kernel_size": self.kernel_size, "gain": self.gain, "seed": self.seed}
        config["padding"] = self.padding
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="gandct")
class PixelNorm(keras.layers.Layer):
    """Scale each pixel's feature vector to unit average square (the paper's pixel-wise normalisation)."""

    def __init__(self, epsilon: float = 1e-8, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def call(self, inputs: object) -> object:
        return inputs * ops.rsqrt(ops.mean(ops.square(inputs), axis=-1, keepdims=True) + self.epsilon)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="gandct")
class MinibatchStddev(keras.layers.Layer):
    """Append one feature map: the standard deviation of each feature over a group of samples,
    averaged over features and positions, so the discriminator can see a batch's lack of variety.

    The batch is split into groups of `group_size` (or the whole batch if smaller); sample i belongs
    to group i mod (batch / group_size), as in the paper's reference implementation.
    """

    def __init__(self, group_size: int = 4, epsilon: float = 1e-8, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.group_size = group_size
        self.epsilon = epsilon

    def call(self, inputs: object) -> object:
        batch, height, width, channels = (ops.shape(inputs)[i] for i in range(4))
        group = ops.minimum(self.group_size, batch)
        grouped = ops.reshape(inputs, (group, -1, height, width, channels))
        variance = ops.mean(ops.square(grouped - ops.mean(grouped, axis=0, keepdims=True)), axis=0)
        stddev = ops.mean(ops.sqrt(variance + self.epsilon), axis=(1, 2, 3), keepdims=True)
        stddev_map = ops.tile(stddev, (group, height, width, 1))
        return ops.concatenate([inputs, ops.cast(stddev_map, inputs.dtype)], axis=-1)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (*input_shape[:-1], input_shape[-1] + 1)

    def get_config(self) -> dict:
        return {**super().get_config(), "group_size": self.group_size, "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="gandct")
class Fade(keras.layers.Layer):
    """Blend two tensors of one shape: (1 - alpha) * old + alpha * new, alpha of shape (batch, 1)."""

    def call(self, inputs: list) -> object:
        old, new, alpha = inputs
        alpha = ops.reshape(ops.cast(alpha, old.dtype), (-1,) + (1,) * (len(old.shape) - 1))
        return (1.0 - alpha) * old + alpha * new

    def compute_output_shape(self, input_shapes: list) -> tuple[int | None, ...]:
        return input_shapes[0]


def depth_to_space_kernel(width: int) -> np.ndarray:
    """The (2, 2, width, 4 * width) kernel of a stride-2 transposed convolution that moves channel
    (2a + b) * width + c of each input pixel to output pixel (a, b) of its 2x2 block, channel c: depth-to-space."""
    kernel = np.zeros((2, 2, width, 4 * width), np.float32)
    for a in range(2):
        for b in range(2):
            kernel[a, b, np.arange(width), (2 * a + b) * width + np.arange(width)] = 1.0
    return kernel


def pixel_shuffle(x: keras.KerasTensor, width: int, name: str) -> keras.KerasTensor:
    """Depth-to-space by 2 of a (..., 4 * width)-channel tensor: a fixed, bias-free transposed convolution with
    `depth_to_space_kernel`, so the model needs no Lambda and no custom layer."""
    shuffle = keras.layers.Conv2DTranspose(
        width,
        2,
        strides=2,
        use_bias=False,
        trainable=False,
        kernel_initializer=keras.initializers.Constant(depth_to_space_kernel(width)),
        name=name,
    )
    return shuffle(x)
