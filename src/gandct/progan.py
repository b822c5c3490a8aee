"""Progressive GAN (Karras et al. 2018, "Progressive Growing of GANs"), small enough for a CPU.

Generator and discriminator grow from 4x4 to the target resolution, doubling each phase. A new
resolution first fades in (its block's output blended with the up-sampled old output by an alpha that
goes 0 -> 1), then trains stable. The paper's stabilisers are all here: pixel-wise feature
normalisation in the generator, minibatch standard deviation in the discriminator's last block,
equalised learning rate (weights drawn from N(0, 1) and scaled at run time by the He constant), leaky
ReLU 0.2, the WGAN-GP loss with the small drift term, Adam with beta1 = 0 and beta2 = 0.99, an
exponential moving average of the generator's weights for sampling, and real images blended between
two resolutions during a fade-in exactly as the discriminator sees the fakes.

Layers are created once for every resolution and shared by one Functional model per resolution, so the
weights carry over from phase to phase. Every model takes `alpha` as a second input (shape (batch, 1))
except the 4x4 ones, which have nothing to fade.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf
from keras import ops
from tqdm import tqdm

from gandct.gantrain import (
    Checkpoint,
    LossHistory,
    ema_update,
    layer_arrays,
    optimizer_arrays,
    restore_layers,
    restore_optimizer,
    to_uint8,
)
from gandct.params import AugmentParams

log = logging.getLogger(__name__)

LEAK = 0.2
HE_GAIN = math.sqrt(2.0)
BASE_RESOLUTION = 4

# --- layers -------------------------------------------------------------------------------------------


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


# --- builders -----------------------------------------------------------------------------------------


def resolutions(final: int) -> list[int]:
    """4, 8, ..., final."""
    return [BASE_RESOLUTION * 2**i for i in range(int(math.log2(final // BASE_RESOLUTION)) + 1)]


@dataclass(frozen=True)
class ProGANConfig:
    """Architecture and training schedule (one value per resolution where it varies)."""

    resolution: int
    latent_size: int
    channels: tuple[int, ...]  # feature maps at 4x4, 8x8, ..., resolution
    fade_images: tuple[int, ...]  # images shown while each new resolution fades in (8x8 onwards)
    stable_images: tuple[int, ...]  # images shown at each resolution once stable (4x4 onwards)
    batch_sizes: tuple[int, ...]  # minibatch size at 4x4, 8x8, ..., resolution
    learning_rate: float
    gp_weight: float = 10.0
    drift_weight: float = 0.001
    ema_beta: float = 0.99
    mbstd_group: int = 4
    padding: str = "zero"  # of the 3x3 convolutions: "zero" (the paper's) or "reflect"
    seed: int = 0

    @classmethod
    def from_params(cls, augment: AugmentParams, seed: int) -> ProGANConfig:
        """The configuration the `augment` section of params.yaml asks for."""
        section = augment.progan
        values = section.model_dump()
        values.update({key: tuple(values[key]) for key in ("channels", "fade_images", "stable_images", "batch_sizes")})
        return cls(resolution=augment.resolution, seed=seed, **values)

    def __post_init__(self) -> None:
        count = len(resolutions(self.resolution))
        if self.resolution < BASE_RESOLUTION or self.resolution != BASE_RESOLUTION * 2 ** (count - 1):
            raise ValueError(f"resolution must be a power of two >= {BASE_RESOLUTION}, got {self.resolution}")
        per_resolution = (self.channels, self.stable_images, self.batch_sizes)
        if any(len(values) != count for values in per_resolution) or len(self.fade_images) != count - 1:
            raise ValueError(
                f"resolution {self.resolution} has {count} resolutions: channels, stable_images and batch_sizes "
                f"need {count} values each, fade_images {count - 1}"
            )


class ProGAN:
    """All layers of a ProGAN's generator, its moving-average copy and its discriminator."""

    def __init__(self, config: ProGANConfig) -> None:
        self.config = config
        self.resolutions = resolutions(config.resolution)
        self.generator_layers = _generator_layers(config, "g")
        self.average_layers = _generator_layers(config, "g_avg")
        self.discriminator_layers = _discriminator_layers(config)
        self.generators = {res: self.generator(res) for res in self.resolutions}
        self.discriminators = {res: self.discriminator(res) for res in self.resolutions}
        # The moving average starts equal to the generator it follows.
        for res in self.resolutions:
            self.sampler(res, average=True).set_weights(self.sampler(res).get_weights())

    def _features(self, layers: dict[str, keras.layers.Layer], latent: object, res: int) -> object:
        x = layers["normalize_latent"](latent)
        x = layers["reshape"](layers["dense"](x))
        x = layers["norm4_0"](layers["act4_0"](x))
        x = layers["norm4_1"](layers["act4_1"](layers["conv4"](x)))
        for block_res in self.resolutions[1 : self.resolutions.index(res) + 1]:
            x = self._grow(layers, x, block_res)
        return x

    def generator(self, res: int, average: bool = False) -> keras.Model:
        """Training graph at `res`: inputs [latent, alpha] (latent only at 4x4), output images (res, res, 3)."""
        layers = self.average_layers if average else self.generator_layers
        latent = keras.Input((self.config.latent_size,), name="latent")
        if res == BASE_RESOLUTION:
            return keras.Model(latent, layers["to_rgb4"](self._features(layers, latent, res)), name=f"g{res}")
        alpha = keras.Input((1,), name="alpha")
        old_features = self._features(layers, latent, res // 2)
        old_rgb = layers[f"up_rgb{res}"](layers[f"to_rgb{res // 2}"](old_features))
        new_rgb = layers[f"to_rgb{res}"](self._grow(layers, old_features, res))
        return keras.Model([latent, alpha], layers[f"fade{res}"]([old_rgb, new_rgb, alpha]), name=f"g{res}")

    def _grow(self, layers: dict[str, keras.layers.Layer], x: object, res: int) -> object:
        """The generator block of `res`: up-sample the features of `res // 2`, then two convolutions."""
        x = layers[f"up{res}"](x)
        for i in range(2):
            x = layers[f"norm{res}_{i}"](layers[f"act{res}_{i}"](layers[f"conv{res}_{i}"](x)))
        return x

    def sampler(self, res: int | None = None, average: bool = False) -> keras.Model:
        """Stable generator at `res` (default: the final resolution): latent in, image out."""
        res = res or self.config.resolution
        layers = self.average_layers if average else self.generator_layers
        latent = keras.Input((self.config.latent_size,), name="latent")
        return keras.Model(latent, layers[f"to_rgb{res}"](self._features(layers, latent, res)), name=f"generator{res}")

    def discriminator(self, res: int) -> keras.Model:
        """Training graph at `res`: inputs [images, alpha] (images only at 4x4), output one score each."""
        layers = self.discriminator_layers
        images = keras.Input((res, res, 3), name="images")
        if res == BASE_RESOLUTION:
            return keras.Model(images, self._judge(self._from_rgb(images, res), res), name=f"d{res}")
        alpha = keras.Input((1,), name="alpha")
        old = self._from_rgb(layers[f"down_rgb{res}"](images), res // 2)
        new = self._shrink(layers, self._from_rgb(images, res), res)
        x = layers[f"fade{res}"]([old, new, alpha])
        return keras.Model([images, alpha], self._judge(x, res // 2), name=f"d{res}")

    def _from_rgb(self, images: object, res: int) -> object:
        layers = self.discriminator_layers
        return layers[f"from_rgb_act{res}"](layers[f"from_rgb{res}"](images))

    def _shrink(self, layers: dict[str, keras.layers.Layer], x: object, res: int) -> object:
        for i in range(2):
            x = layers[f"act{res}_{i}"](layers[f"conv{res}_{i}"](x))
        return layers[f"down{res}"](x)

    def _judge(self, x: object, res: int) -> object:
        """From features at `res` through the smaller blocks down to the final score."""
        layers = self.discriminator_layers
        for block_res in reversed(self.resolutions[1 : self.resolutions.index(res) + 1]):
            x = self._shrink(layers, x, block_res)
        x = layers["mbstd"](x)
        x = layers["act4_0"](layers["conv4"](x))
        x = layers["act4_1"](layers["dense4"](layers["flatten"](x)))
        return layers["score"](x)


def _generator_layers(config: ProGANConfig, prefix: str) -> dict[str, keras.layers.Layer]:
    seeds = iter(range(config.seed * 1000, config.seed * 1000 + 1000))
    res_list = resolutions(config.resolution)
    base = config.channels[0]
    layers: dict[str, keras.layers.Layer] = {
        "normalize_latent": PixelNorm(name=f"{prefix}_normalize_latent"),
        # The paper's gain for this layer: it feeds 16 pixels, like a 4x4 convolution.
        "dense": EqualizedDense(16 * base, gain=HE_GAIN / 4, seed=next(seeds), name=f"{prefix}_dense"),
        "reshape": keras.layers.Reshape((4, 4, base), name=f"{prefix}_reshape"),
        "conv4": EqualizedConv2D(base, 3, seed=next(seeds), padding=config.padding, name=f"{prefix}_conv4"),
    }
    for i in range(2):
        layers[f"act4_{i}"] = keras.layers.LeakyReLU(LEAK, name=f"{prefix}_act4_{i}")
        layers[f"norm4_{i}"] = PixelNorm(name=f"{prefix}_norm4_{i}")
    for index, res in enumerate(res_list):
        layers[f"to_rgb{res}"] = EqualizedConv2D(3, 1, gain=1.0, seed=next(seeds), name=f"{prefix}_to_rgb{res}")
        if index == 0:
            continue
        layers[f"up{res}"] = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"{prefix}_up{res}")
        layers[f"up_rgb{res}"] = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"{prefix}_up_rgb{res}")
        layers[f"fade{res}"] = Fade(name=f"{prefix}_fade{res}")
        for i in range(2):
            conv = EqualizedConv2D(
                config.channels[index], 3, seed=next(seeds), padding=config.padding, name=f"{prefix}_conv{res}_{i}"
            )
            layers[f"conv{res}_{i}"] = conv
            layers[f"act{res}_{i}"] = keras.layers.LeakyReLU(LEAK, name=f"{prefix}_act{res}_{i}")
            layers[f"norm{res}_{i}"] = PixelNorm(name=f"{prefix}_norm{res}_{i}")
    return layers


def _discriminator_layers(config: ProGANConfig) -> dict[str, keras.layers.Layer]:
    seeds = iter(range(config.seed * 1000 + 500, config.seed * 1000 + 1500))
    res_list = resolutions(config.resolution)
    base = config.channels[0]
    layers: dict[str, keras.layers.Layer] = {
        "mbstd": MinibatchStddev(config.mbstd_group, name="d_mbstd"),
        "conv4": EqualizedConv2D(base, 3, seed=next(seeds), padding=config.padding, name="d_conv4"),
        "act4_0": keras.layers.LeakyReLU(LEAK, name="d_act4_0"),
        "flatten": keras.layers.Flatten(name="d_flatten"),
        "dense4": EqualizedDense(base, seed=next(seeds), name="d_dense4"),
        "act4_1": keras.layers.LeakyReLU(LEAK, name="d_act4_1"),
        "score": EqualizedDense(1, gain=1.0, seed=next(seeds), name="d_score"),
    }
    for index, res in enumerate(res_list):
        layers[f"from_rgb{res}"] = EqualizedConv2D(config.channels[index], 1, seed=next(seeds), name=f"d_from_rgb{res}")
        layers[f"from_rgb_act{res}"] = keras.layers.LeakyReLU(LEAK, name=f"d_from_rgb_act{res}")
        if index == 0:
            continue
        layers[f"down_rgb{res}"] = keras.layers.AveragePooling2D(2, name=f"d_down_rgb{res}")
        layers[f"down{res}"] = keras.layers.AveragePooling2D(2, name=f"d_down{res}")
        layers[f"fade{res}"] = Fade(name=f"d_fade{res}")
        widths = (config.channels[index], config.channels[index - 1])
        for i, width in enumerate(widths):
            layers[f"conv{res}_{i}"] = EqualizedConv2D(
                width, 3, seed=next(seeds), padding=config.padding, name=f"d_conv{res}_{i}"
            )
            layers[f"act{res}_{i}"] = keras.layers.LeakyReLU(LEAK, name=f"d_act{res}_{i}")
    return layers


def downsample(images: np.ndarray, factor: int) -> np.ndarray:
    """Box-filter down-sampling by an integer factor (how the paper makes its low-resolution reals)."""
    if factor == 1:
        return images
    count, height, width, channels = images.shape
    blocks = images.reshape(count, height // factor, factor, width // factor, factor, channels)
    return blocks.mean(axis=(2, 4), dtype=np.float32)


def gradient_penalty(
    critic: Callable[[tf.Tensor], tf.Tensor], real: tf.Tensor, fake: tf.Tensor, mix: tf.Tensor
) -> tf.Tensor:
    """WGAN-GP penalty: mean over the batch of (||grad critic(x)|| - 1)^2 at x = real + mix * (fake - real).

    `mix` has shape (batch, 1, 1, 1) with values in [0, 1].
    """
    mixed = real + mix * (fake - real)
    with tf.GradientTape() as tape:
        tape.watch(mixed)
        scores = critic(mixed)
    # The gradient of the summed scores, as the paper's code takes it (minibatch stddev couples a group's rows).
    grads = tape.gradient(scores, mixed)
    norms = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]) + 1e-12)
    return tf.reduce_mean(tf.square(norms - 1.0))


# --- training -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Phase:
    """One stretch of training at one resolution: fading the new block in, or stable."""

    res: int
    fading: bool
    images: int

    @property
    def name(self) -> str:
        return f"{self.res}x{self.res} {'fade-in' if self.fading else 'stable'}"


def schedule(config: ProGANConfig) -> list[Phase]:
    """4x4 stable, then for each larger resolution a fade-in and a stable phase."""
    res_list = resolutions(config.resolution)
    phases = [Phase(res_list[0], False, config.stable_images[0])]
    for index, res in enumerate(res_list[1:], start=1):
        phases.append(Phase(res, True, config.fade_images[index - 1]))
        phases.append(Phase(res, False, config.stable_images[index]))
    return phases


LOSS_COLUMNS = ("step", "images", "resolution", "alpha", "d_loss", "g_loss", "gradient_penalty", "wasserstein")


@dataclass
class TrainingState:
    """Where a run is, what it has measured so far; everything here goes into the checkpoint."""

    step: int = 0  # steps done in the whole run
    images: int = 0  # real images shown to the discriminator in the whole run
    phase_index: int = 0
    phase_step: int = 0  # steps done in the current phase
    optimizer_res: int = 0  # resolution the current optimizers were built for (0: none yet)
    phase_seconds: dict[str, float] = field(default_factory=dict)


class ProGANTrainer:
    """Train a ProGAN on real images, checkpointing so that a killed run resumes where it stopped.

    Random draws (minibatch, latents, penalty mixes) come from stateless generators keyed by the seed and
    the step number, so a resumed run draws what the uninterrupted one would have drawn.
    """

    def __init__(
        self,
        gan: ProGAN,
        reals: np.ndarray,
        checkpoint: Checkpoint | None = None,
        checkpoint_seconds: float = 60.0,
        grid_size: int = 6,
    ) -> None:
        """`reals`: float32 images in [-1, 1] of shape (count, resolution, resolution, 3)."""
        self.gan = gan
        self.config = gan.config
        expected = (self.config.resolution, self.config.resolution, 3)
        if reals.ndim != 4 or reals.shape[1:] != expected:
            raise ValueError(f"reals must have shape (count, {expected}), got {reals.shape}")
        self.pyramid = {res: tf.constant(downsample(reals, self.config.resolution // res)) for res in gan.resolutions}
        self.phases = schedule(self.config)
        self.checkpoint = checkpoint
        self.checkpoint_seconds = checkpoint_seconds
        self.grid_latents = tf.random.stateless_normal(
            (grid_size * grid_size, self.config.latent_size), seed=(self.config.seed, 1 << 20)
        )
        self.state = TrainingState()
        self.history = LossHistory(LOSS_COLUMNS)
        self.growth: dict[int, np.ndarray] = {}  # sample images from the averaged generator after each resolution
        self.optimizers: tuple[keras.optimizers.Optimizer, keras.optimizers.Optimizer] | None = None
        self._step_functions: dict[int, Callable] = {}
        generator_keys = {layer.name: key for key, layer in gan.generator_layers.items()}
        self._average_of = {name: gan.average_layers[key] for name, key in generator_keys.items()}

    def batch_size(self, res: int) -> int:
        return self.config.batch_sizes[self.gan.resolutions.index(res)]

    def phase_steps(self, phase: Phase) -> int:
        return math.ceil(phase.images / self.batch_size(phase.res))

    # checkpoint ------------------------------------------------------------------------------------

    def _weight_arrays(self) -> dict[str, np.ndarray]:
        arrays = {
            **layer_arrays("g", self.gan.generator_layers.values()),
            **layer_arrays("g_avg", self.gan.average_layers.values()),
            **layer_arrays("d", self.gan.discriminator_layers.values()),
        }
        if self.optimizers is not None:
            arrays.update(optimizer_arrays("g_opt", self.optimizers[0]))
            arrays.update(optimizer_arrays("d_opt", self.optimizers[1]))
        return arrays

    def save(self) -> None:
        """Write the whole training state to the checkpoint (if there is one)."""
        if self.checkpoint is None:
            return
        arrays = {**self._weight_arrays(), "history": self.history.as_array()}
        arrays.update({f"growth/{res}": grid for res, grid in self.growth.items()})
        self.checkpoint.save(self.state.__dict__, arrays)

    def resume(self) -> bool:
        """Load the checkpoint if it matches this run; True if training continues from it."""
        loaded = self.checkpoint.load() if self.checkpoint is not None else None
        if loaded is None:
            return False
        saved_state, arrays = loaded
        state = TrainingState(**{key: saved_state[key] for key in TrainingState.__dataclass_fields__})
        if state.optimizer_res:
            self._new_optimizers(state.optimizer_res)
        expected = self._weight_arrays()
        mismatched = [
            name for name, value in expected.items() if getattr(arrays.get(name), "shape", None) != value.shape
        ]
        if mismatched:
            log.info(
                "checkpoint in %s does not fit this model (%s); starting fresh", self.checkpoint.folder, mismatched[0]
            )
            self.optimizers = None
            self.state.optimizer_res = 0
            return False
        restore_layers("g", self.gan.generator_layers.values(), arrays)
        restore_layers("g_avg", self.gan.average_layers.values(), arrays)
        restore_layers("d", self.gan.discriminator_layers.values(), arrays)
        if self.optimizers is not None:
            restore_optimizer("g_opt", self.optimizers[0], arrays)
            restore_optimizer("d_opt", self.optimizers[1], arrays)
        self.history.restore(arrays["history"])
        self.growth = {int(name.split("/")[1]): arrays[name] for name in arrays if name.startswith("growth/")}
        self.state = state
        return True

    # training --------------------------------------------------------------------------------------

    def _new_optimizers(self, res: int) -> None:
        """Fresh Adam states for a new resolution, as the paper resets them when the networks grow."""
        self.optimizers = tuple(
            keras.optimizers.Adam(self.config.learning_rate, beta_1=0.0, beta_2=0.99, epsilon=1e-8) for _ in range(2)
        )
        self.optimizers[0].build(self.gan.generators[res].trainable_variables)
        self.optimizers[1].build(self.gan.discriminators[res].trainable_variables)
        self.state.optimizer_res = res
        self._step_functions.pop(res, None)

    def _step_function(self, res: int) -> Callable:
        if res not in self._step_functions:
            self._step_functions[res] = self._build_step(res)
        return self._step_functions[res]

    def _build_step(self, res: int) -> Callable:
        config = self.config
        generator, discriminator = self.gan.generators[res], self.gan.discriminators[res]
        g_optimizer, d_optimizer = self.optimizers
        grows = res > BASE_RESOLUTION
        pairs = [
            (average, live)
            for layer in generator.layers
            if layer.weights
            for average, live in zip(self._average_of[layer.name].weights, layer.weights, strict=True)
        ]
        batch = self.batch_size(res)

        def generate(latents: tf.Tensor, alpha: tf.Tensor) -> tf.Tensor:
            return generator([latents, alpha], training=True) if grows else generator(latents, training=True)

        def judge(images: tf.Tensor, alpha: tf.Tensor) -> tf.Tensor:
            return discriminator([images, alpha], training=True) if grows else discriminator(images, training=True)

        @tf.function(autograph=False)
        def train_step(reals: tf.Tensor, step: tf.Tensor, alpha: tf.Tensor) -> tuple[tf.Tensor, ...]:
            def seed(salt: int) -> tf.Tensor:
                return tf.stack([tf.constant(config.seed, tf.int64), step * 4 + salt])

            alphas = tf.fill((batch, 1), alpha)
            index = tf.random.stateless_uniform((batch,), seed(0), maxval=tf.shape(reals)[0], dtype=tf.int32)
            real = tf.gather(reals, index)
            if grows:  # the reals fade in like the fakes: blended with their half-resolution version
                coarse = tf.repeat(tf.repeat(tf.nn.avg_pool2d(real, 2, 2, "VALID"), 2, axis=1), 2, axis=2)
                real = coarse + alpha * (real - coarse)
            latents = tf.random.stateless_normal((batch, config.latent_size), seed(1))
            mix = tf.random.stateless_uniform((batch, 1, 1, 1), seed(2))
            fake = generate(latents, alphas)
            with tf.GradientTape() as tape:
                real_scores = judge(real, alphas)
                fake_scores = judge(fake, alphas)
                wasserstein = tf.reduce_mean(real_scores) - tf.reduce_mean(fake_scores)
                penalty = gradient_penalty(lambda x: judge(x, alphas), real, fake, mix)
                drift = tf.reduce_mean(tf.square(real_scores))
                d_loss = -wasserstein + config.gp_weight * penalty + config.drift_weight * drift
            d_vars = discriminator.trainable_variables
            d_optimizer.apply_gradients(zip(tape.gradient(d_loss, d_vars), d_vars, strict=True))

            latents = tf.random.stateless_normal((batch, config.latent_size), seed(3))
            with tf.GradientTape() as tape:
                g_loss = -tf.reduce_mean(judge(generate(latents, alphas), alphas))
            g_vars = generator.trainable_variables
            g_optimizer.apply_gradients(zip(tape.gradient(g_loss, g_vars), g_vars, strict=True))
            # The average follows closely at first, so early samples are not dominated by the initial weights.
            step_float = tf.cast(step, tf.float32)
            ema_update(pairs, tf.minimum(config.ema_beta, (1.0 + step_float) / (10.0 + step_float)))
            return d_loss, g_loss, penalty, wasserstein

        return train_step

    def sample_grid(self, res: int) -> np.ndarray:
        """uint8 images of the averaged generator at `res` for the fixed grid latents."""
        return to_uint8(self.gan.sampler(res, average=True)(self.grid_latents, training=False).numpy())

    def run_step(self, phase: Phase) -> tuple[float, float, float]:
        """One training step of `phase` at the current position: advance the counters, record the losses.

        Returns (alpha, discriminator loss, generator loss).
        """
        if self.state.optimizer_res != phase.res:
            self._new_optimizers(phase.res)
        alpha = self.state.phase_step / self.phase_steps(phase) if phase.fading else 1.0
        step = tf.constant(self.state.step, tf.int64)
        losses = self._step_function(phase.res)(self.pyramid[phase.res], step, tf.constant(alpha, tf.float32))
        d_loss, g_loss, penalty, wasserstein = (float(value) for value in losses)
        self.state.step += 1
        self.state.phase_step += 1
        self.state.images += self.batch_size(phase.res)
        self.history.append(self.state.step, self.state.images, phase.res, alpha, d_loss, g_loss, penalty, wasserstein)
        return alpha, d_loss, g_loss

    def train(self, progress: bool = True) -> None:
        """Run (or finish) the whole schedule, checkpointing at every phase end and every few seconds."""
        if self.resume():
            if self.state.phase_index < len(self.phases):
                phase = self.phases[self.state.phase_index]
                log.info("resuming from checkpoint: step %d (%s)", self.state.step, phase.name)
            else:
                log.info("checkpoint holds the finished training (%d steps): nothing left to train", self.state.step)
        total = sum(self.phase_steps(phase) for phase in self.phases)
        bar = tqdm(total=total, initial=self.state.step, desc="progan", unit="step", disable=not progress)
        last_save = time.perf_counter()
        with bar:
            while self.state.phase_index < len(self.phases):
                phase = self.phases[self.state.phase_index]
                steps = self.phase_steps(phase)
                started = time.perf_counter()
                while self.state.phase_step < steps:
                    alpha, d_loss, g_loss = self.run_step(phase)
                    bar.update()
                    if self.state.phase_step % 10 == 0 or self.state.phase_step == steps:
                        bar.set_postfix_str(
                            f"{phase.name} alpha={alpha:.2f} d={d_loss:.3f} g={g_loss:.3f}", refresh=False
                        )
                    if time.perf_counter() - last_save > self.checkpoint_seconds and self.state.phase_step < steps:
                        self._record_time(phase, started)
                        started = time.perf_counter()
                        self.save()
                        last_save = time.perf_counter()
                self._record_time(phase, started)
                if not phase.fading:
                    self.growth[phase.res] = self.sample_grid(phase.res)
                log.info("phase %s done: %d steps, %.1f s", phase.name, steps, self.state.phase_seconds[phase.name])
                self.state.phase_index += 1
                self.state.phase_step = 0
                self.save()
                last_save = time.perf_counter()

    def _record_time(self, phase: Phase, started: float) -> None:
        seconds = self.state.phase_seconds.get(phase.name, 0.0)
        self.state.phase_seconds[phase.name] = seconds + time.perf_counter() - started
