"""Progressive GAN (Karras et al. 2018, "Progressive Growing of GANs", sections 2-4), small enough for a CPU.

Generator and discriminator grow from 4x4 to the target resolution, doubling each phase. A new
resolution first fades in (its block's output blended with the up-sampled old output by an alpha that
goes 0 -> 1), then trains stable. The paper's stabilisers are all here: pixel-wise feature
normalisation in the generator, minibatch standard deviation in the discriminator's last block,
equalised learning rate, leaky ReLU 0.2, the WGAN-GP loss with the small drift term, Adam with
beta1 = 0 and beta2 = 0.99, an exponential moving average of the generator's weights for sampling, and
real images blended between two resolutions during a fade-in exactly as the discriminator sees the fakes.

Each resolution's block is a small Functional sub-model, built once; the growing training graphs of
every resolution call the same blocks, so the weights carry over from phase to phase. Every training
graph takes `alpha` as a second input (shape (batch, 1)) except the 4x4 ones, which have nothing to fade.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from gandct.gan.layers import HE_GAIN, EqualizedConv2D, EqualizedDense, Fade, MinibatchStddev, PixelNorm
from gandct.gan.losses import gradient_penalty, wgan_critic_loss, wgan_generator_loss
from gandct.gan.pixels import to_uint8
from gandct.gan.trainer import (
    Checkpoint,
    Phase,
    ResumableTrainer,
    TrainingState,
    layer_arrays,
    optimizer_arrays,
    restore_layers,
    restore_optimizer,
)
from gandct.params import AugmentParams

LEAK = 0.2
BASE_RESOLUTION = 4


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
    gp_interval: int = 1  # lazy penalty on every k-th critic step, weighted x k (StyleGAN2, Karras et al. 2020)
    drift_weight: float = 0.001
    ema_beta: float = 0.99
    mbstd_group: int = 4
    padding: str = "zero"  # of the 3x3 convolutions: "zero" (the paper's) or "reflect"
    jit_compile: bool = False  # compile each training step with XLA
    seed: int = 0

    @classmethod
    def from_params(cls, augment: AugmentParams, seed: int) -> ProGANConfig:
        """The configuration the `augment` section of params.yaml asks for."""
        values = augment.progan.model_dump()
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

    def width(self, res: int) -> int:
        """Feature maps at resolution `res`."""
        return self.channels[resolutions(self.resolution).index(res)]


# --- blocks: one small sub-model per resolution -------------------------------------------------------


def _conv(config: ProGANConfig, filters: int, seed: int, name: str) -> EqualizedConv2D:
    return EqualizedConv2D(filters, 3, seed=seed, padding=config.padding, name=name)


def generator_base(config: ProGANConfig, dense_seed: int, conv_seed: int) -> keras.Model:
    """Latent vector -> 4x4 features: normalised latent, dense, leaky ReLU, pixel norm, 3x3 conv."""
    width = config.width(BASE_RESOLUTION)
    latent = keras.Input((config.latent_size,), name="latent")
    x = PixelNorm(name="normalize_latent")(latent)
    # The paper's gain for this layer: it feeds 16 pixels, like a 4x4 convolution.
    x = EqualizedDense(16 * width, gain=HE_GAIN / 4, seed=dense_seed, name="dense")(x)
    x = keras.layers.Reshape((4, 4, width), name="reshape")(x)
    x = PixelNorm(name="norm0")(keras.layers.LeakyReLU(LEAK, name="act0")(x))
    x = _conv(config, width, conv_seed, "conv")(x)
    x = PixelNorm(name="norm1")(keras.layers.LeakyReLU(LEAK, name="act1")(x))
    return keras.Model(latent, x, name="base")


def generator_block(config: ProGANConfig, res: int, seeds: Sequence[int]) -> keras.Model:
    """Features at res / 2 -> features at res: nearest-neighbour up-sampling, then two 3x3 convolutions."""
    features = keras.Input((res // 2, res // 2, config.width(res // 2)), name="features")
    x = keras.layers.UpSampling2D(2, interpolation="nearest", name="up")(features)
    for i, seed in enumerate(seeds):
        x = keras.layers.LeakyReLU(LEAK, name=f"act{i}")(_conv(config, config.width(res), seed, f"conv{i}")(x))
        x = PixelNorm(name=f"norm{i}")(x)
    return keras.Model(features, x, name=f"block{res}")


def to_rgb(config: ProGANConfig, res: int, seed: int) -> keras.Model:
    """Features at res -> RGB: a linear 1x1 convolution."""
    features = keras.Input((res, res, config.width(res)), name="features")
    rgb = EqualizedConv2D(3, 1, gain=1.0, seed=seed, name="conv")(features)
    return keras.Model(features, rgb, name=f"to_rgb{res}")


def generator_blocks(config: ProGANConfig) -> dict[str, keras.Model]:
    """Every block of one generator by name: "base", "to_rgb<res>" for each resolution, "block<res>" from 8x8."""
    seeds = _seeds(config.seed * 1000)
    blocks = {"base": generator_base(config, next(seeds), next(seeds))}
    for res in resolutions(config.resolution):
        blocks[f"to_rgb{res}"] = to_rgb(config, res, next(seeds))
        if res > BASE_RESOLUTION:
            blocks[f"block{res}"] = generator_block(config, res, (next(seeds), next(seeds)))
    return blocks


def discriminator_base(config: ProGANConfig, seeds: Sequence[int]) -> keras.Model:
    """4x4 features -> one score: minibatch stddev, 3x3 conv, dense, linear score."""
    width = config.width(BASE_RESOLUTION)
    conv_seed, dense_seed, score_seed = seeds
    features = keras.Input((4, 4, width), name="features")
    x = MinibatchStddev(config.mbstd_group, name="mbstd")(features)
    x = keras.layers.LeakyReLU(LEAK, name="act0")(_conv(config, width, conv_seed, "conv")(x))
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.LeakyReLU(LEAK, name="act1")(EqualizedDense(width, seed=dense_seed, name="dense")(x))
    return keras.Model(features, EqualizedDense(1, gain=1.0, seed=score_seed, name="score")(x), name="base")


def discriminator_block(config: ProGANConfig, res: int, seeds: Sequence[int]) -> keras.Model:
    """Features at res -> features at res / 2: two 3x3 convolutions, then 2x2 average pooling."""
    x = features = keras.Input((res, res, config.width(res)), name="features")
    for i, (seed, width) in enumerate(zip(seeds, (config.width(res), config.width(res // 2)), strict=True)):
        x = keras.layers.LeakyReLU(LEAK, name=f"act{i}")(_conv(config, width, seed, f"conv{i}")(x))
    return keras.Model(features, keras.layers.AveragePooling2D(2, name="down")(x), name=f"block{res}")


def from_rgb(config: ProGANConfig, res: int, seed: int) -> keras.Model:
    """RGB at res -> features at res: a 1x1 convolution and leaky ReLU."""
    images = keras.Input((res, res, 3), name="images")
    x = EqualizedConv2D(config.width(res), 1, seed=seed, name="conv")(images)
    return keras.Model(images, keras.layers.LeakyReLU(LEAK, name="act")(x), name=f"from_rgb{res}")


def discriminator_blocks(config: ProGANConfig) -> dict[str, keras.Model]:
    """Every block of the discriminator: "base", "from_rgb<res>" for each resolution, "block<res>" from 8x8."""
    seeds = _seeds(config.seed * 1000 + 500)
    blocks = {"base": discriminator_base(config, (next(seeds), next(seeds), next(seeds)))}
    for res in resolutions(config.resolution):
        blocks[f"from_rgb{res}"] = from_rgb(config, res, next(seeds))
        if res > BASE_RESOLUTION:
            blocks[f"block{res}"] = discriminator_block(config, res, (next(seeds), next(seeds)))
    return blocks


def _seeds(first: int) -> Iterator[int]:
    """Initialiser seeds handed out in building order, so every weight has its own seeded draw."""
    return iter(range(first, first + 500))


# --- the growing models -------------------------------------------------------------------------------


def _features(blocks: dict[str, keras.Model], latent: object, res: int) -> object:
    x = blocks["base"](latent)
    for block_res in resolutions(res)[1:]:
        x = blocks[f"block{block_res}"](x)
    return x


def growing_generator(config: ProGANConfig, blocks: dict[str, keras.Model], res: int) -> keras.Model:
    """Training graph at `res`: inputs [latent, alpha] (latent only at 4x4), output images (res, res, 3)."""
    latent = keras.Input((config.latent_size,), name="latent")
    if res == BASE_RESOLUTION:
        return keras.Model(latent, blocks["to_rgb4"](_features(blocks, latent, res)), name=f"g{res}")
    alpha = keras.Input((1,), name="alpha")
    old_features = _features(blocks, latent, res // 2)
    old_rgb = keras.layers.UpSampling2D(2, interpolation="nearest", name="up_rgb")(
        blocks[f"to_rgb{res // 2}"](old_features)
    )
    new_rgb = blocks[f"to_rgb{res}"](blocks[f"block{res}"](old_features))
    return keras.Model([latent, alpha], Fade(name="fade")([old_rgb, new_rgb, alpha]), name=f"g{res}")


def stable_generator(config: ProGANConfig, blocks: dict[str, keras.Model], res: int) -> keras.Model:
    """Generator at `res` once its block is stable: latent in, image out."""
    latent = keras.Input((config.latent_size,), name="latent")
    return keras.Model(latent, blocks[f"to_rgb{res}"](_features(blocks, latent, res)), name=f"generator{res}")


def growing_discriminator(config: ProGANConfig, blocks: dict[str, keras.Model], res: int) -> keras.Model:
    """Training graph at `res`: inputs [images, alpha] (images only at 4x4), output one score each."""
    images = keras.Input((res, res, 3), name="images")
    if res == BASE_RESOLUTION:
        return keras.Model(images, blocks["base"](blocks["from_rgb4"](images)), name=f"d{res}")
    alpha = keras.Input((1,), name="alpha")
    old = blocks[f"from_rgb{res // 2}"](keras.layers.AveragePooling2D(2, name="down_rgb")(images))
    new = blocks[f"block{res}"](blocks[f"from_rgb{res}"](images))
    x = Fade(name="fade")([old, new, alpha])
    for block_res in reversed(resolutions(res // 2)[1:]):
        x = blocks[f"block{block_res}"](x)
    return keras.Model([images, alpha], blocks["base"](x), name=f"d{res}")


class ProGAN:
    """A ProGAN's blocks (generator, its moving-average copy, discriminator) and training graphs per resolution."""

    def __init__(self, config: ProGANConfig) -> None:
        self.config = config
        self.resolutions = resolutions(config.resolution)
        self.generator_blocks = generator_blocks(config)
        self.average_blocks = generator_blocks(config)
        self.discriminator_blocks = discriminator_blocks(config)
        self.generators = {res: growing_generator(config, self.generator_blocks, res) for res in self.resolutions}
        self.discriminators = {
            res: growing_discriminator(config, self.discriminator_blocks, res) for res in self.resolutions
        }
        # The moving average starts equal to the generator it follows.
        for name, block in self.generator_blocks.items():
            self.average_blocks[name].set_weights(block.get_weights())

    def sampler(self, res: int | None = None, average: bool = False) -> keras.Model:
        """Stable generator at `res` (default: the final resolution), of the moving average if `average`."""
        blocks = self.average_blocks if average else self.generator_blocks
        return stable_generator(self.config, blocks, res or self.config.resolution)


# --- the saved generator: built-in Keras layers only ----------------------------------------------------


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


# --- training -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GrowthPhase(Phase):
    """A phase at one resolution: fading the new block in, or stable."""

    res: int = BASE_RESOLUTION
    fading: bool = False


def schedule(config: ProGANConfig) -> list[GrowthPhase]:
    """4x4 stable, then for each larger resolution a fade-in and a stable phase."""
    phases = []
    for index, res in enumerate(resolutions(config.resolution)):
        batch = config.batch_sizes[index]
        if index:
            phases.append(GrowthPhase(f"{res}x{res} fade-in", config.fade_images[index - 1], batch, res, True))
        phases.append(GrowthPhase(f"{res}x{res} stable", config.stable_images[index], batch, res, False))
    return phases


LOSS_COLUMNS = ("step", "images", "resolution", "alpha", "d_loss", "g_loss", "gradient_penalty", "wasserstein")


@dataclass
class ProGANState(TrainingState):
    optimizer_res: int = 0  # resolution the current optimizers were built for (0: none yet)


def ema_update(pairs: Sequence[tuple[tf.Variable, tf.Variable]], beta: tf.Tensor) -> None:
    """Move each average towards its live variable: average <- beta * average + (1 - beta) * live."""
    for average, live in pairs:
        average.assign(beta * average + (1.0 - beta) * live)


class ProGANTrainer(ResumableTrainer):
    """Train a ProGAN on real images: WGAN-GP steps through the growth schedule, with a weight average.

    Random draws (minibatch, latents, penalty mixes) come from stateless generators keyed by the seed and
    the step number, so a resumed run draws what the uninterrupted one would have drawn.
    """

    loss_columns = LOSS_COLUMNS
    shown = ("alpha", "d_loss", "g_loss")
    state_type = ProGANState
    state: ProGANState

    def __init__(
        self,
        gan: ProGAN,
        reals: np.ndarray,
        checkpoint: Checkpoint | None = None,
        checkpoint_seconds: float = 60.0,
        grid_size: int = 6,
    ) -> None:
        """`reals`: float32 images in [-1, 1] of shape (count, resolution, resolution, 3)."""
        super().__init__("progan", schedule(gan.config), checkpoint, checkpoint_seconds)
        self.gan = gan
        self.config = gan.config
        expected = (self.config.resolution, self.config.resolution, 3)
        if reals.ndim != 4 or reals.shape[1:] != expected:
            raise ValueError(f"reals must have shape (count, {expected}), got {reals.shape}")
        self.pyramid = {res: tf.constant(downsample(reals, self.config.resolution // res)) for res in gan.resolutions}
        self.grid_latents = tf.random.stateless_normal(
            (grid_size * grid_size, self.config.latent_size), seed=(self.config.seed, 1 << 20)
        )
        self.growth: dict[int, np.ndarray] = {}  # sample images from the averaged generator after each resolution
        self.optimizers: tuple[keras.optimizers.Optimizer, keras.optimizers.Optimizer] | None = None
        self._step_functions: dict[tuple[int, bool], Callable] = {}

    # checkpoint ------------------------------------------------------------------------------------

    def checkpoint_arrays(self) -> dict[str, np.ndarray]:
        arrays = {
            **layer_arrays("g", self.gan.generator_blocks.values()),
            **layer_arrays("g_avg", self.gan.average_blocks.values()),
            **layer_arrays("d", self.gan.discriminator_blocks.values()),
            **{f"growth/{res}": grid for res, grid in self.growth.items()},
        }
        if self.optimizers is not None:
            arrays.update(optimizer_arrays("g_opt", self.optimizers[0]))
            arrays.update(optimizer_arrays("d_opt", self.optimizers[1]))
        return arrays

    def prepare_resume(self, state: ProGANState) -> None:
        if state.optimizer_res:  # the saved optimizer slots fit optimizers built for that resolution
            self._new_optimizers(state.optimizer_res)

    def restore_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        restore_layers("g", self.gan.generator_blocks.values(), arrays)
        restore_layers("g_avg", self.gan.average_blocks.values(), arrays)
        restore_layers("d", self.gan.discriminator_blocks.values(), arrays)
        if self.optimizers is not None:
            restore_optimizer("g_opt", self.optimizers[0], arrays)
            restore_optimizer("d_opt", self.optimizers[1], arrays)
        self.growth = {int(name.split("/")[1]): arrays[name] for name in arrays if name.startswith("growth/")}

    # training --------------------------------------------------------------------------------------

    def _new_optimizers(self, res: int) -> None:
        """Fresh Adam states for a new resolution, as the paper resets them when the networks grow."""
        self.optimizers = tuple(
            keras.optimizers.Adam(self.config.learning_rate, beta_1=0.0, beta_2=0.99, epsilon=1e-8) for _ in range(2)
        )
        self.optimizers[0].build(self.gan.generators[res].trainable_variables)
        self.optimizers[1].build(self.gan.discriminators[res].trainable_variables)
        for penalised in (False, True):
            self._step_functions.pop((res, penalised), None)

    def penalised(self, step: int) -> bool:
        """Whether the critic step `step` (0-based, counted over the whole run) carries the gradient penalty."""
        return step % self.config.gp_interval == 0

    def _build_step(self, res: int, penalised: bool) -> Callable:
        """The training step at `res`, with the gradient penalty (weighted x gp_interval) or without it."""
        config = self.config
        generator, discriminator = self.gan.generators[res], self.gan.discriminators[res]
        g_optimizer, d_optimizer = self.optimizers
        grows = res > BASE_RESOLUTION
        pairs = [
            (average, live)
            for block in generator.layers
            if block.weights
            for average, live in zip(self.gan.average_blocks[block.name].weights, block.weights, strict=True)
        ]
        batch = config.batch_sizes[self.gan.resolutions.index(res)]

        def generate(latents: tf.Tensor, alpha: tf.Tensor) -> tf.Tensor:
            return generator([latents, alpha], training=True) if grows else generator(latents, training=True)

        def judge(images: tf.Tensor, alpha: tf.Tensor) -> tf.Tensor:
            return discriminator([images, alpha], training=True) if grows else discriminator(images, training=True)

        gp_weight = config.gp_weight * config.gp_interval if penalised else 0.0

        @tf.function(autograph=False, jit_compile=config.jit_compile)
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
                penalty = gradient_penalty(lambda x: judge(x, alphas), real, fake, mix) if penalised else tf.zeros(())
                d_loss, wasserstein = wgan_critic_loss(
                    real_scores, fake_scores, penalty, gp_weight, config.drift_weight
                )
            d_vars = discriminator.trainable_variables
            d_optimizer.apply_gradients(zip(tape.gradient(d_loss, d_vars), d_vars, strict=True))

            latents = tf.random.stateless_normal((batch, config.latent_size), seed(3))
            with tf.GradientTape() as tape:
                g_loss = wgan_generator_loss(judge(generate(latents, alphas), alphas))
            g_vars = generator.trainable_variables
            g_optimizer.apply_gradients(zip(tape.gradient(g_loss, g_vars), g_vars, strict=True))
            # The average follows closely at first, so early samples are not dominated by the initial weights.
            step_float = tf.cast(step, tf.float32)
            ema_update(pairs, tf.minimum(config.ema_beta, (1.0 + step_float) / (10.0 + step_float)))
            return d_loss, g_loss, penalty, wasserstein

        return train_step

    def train_step(self, phase: GrowthPhase) -> dict[str, float]:
        if self.state.optimizer_res != phase.res:
            self._new_optimizers(phase.res)
            self.state.optimizer_res = phase.res
        key = (phase.res, self.penalised(self.state.step))
        if key not in self._step_functions:
            self._step_functions[key] = self._build_step(*key)
        alpha = self.state.phase_step / phase.steps if phase.fading else 1.0
        step = tf.constant(self.state.step, tf.int64)
        losses = self._step_functions[key](self.pyramid[phase.res], step, tf.constant(alpha, tf.float32))
        d_loss, g_loss, penalty, wasserstein = (float(value) for value in losses)
        return {
            "resolution": phase.res,
            "alpha": alpha,
            "d_loss": d_loss,
            "g_loss": g_loss,
            "gradient_penalty": penalty,
            "wasserstein": wasserstein,
        }

    def end_phase(self, phase: GrowthPhase) -> None:
        if not phase.fading:
            self.growth[phase.res] = self.sample_grid(phase.res)

    def sample_grid(self, res: int) -> np.ndarray:
        """uint8 images of the averaged generator at `res` for the fixed grid latents."""
        return to_uint8(self.gan.sampler(res, average=True)(self.grid_latents, training=False).numpy())


def downsample(images: np.ndarray, factor: int) -> np.ndarray:
    """Box-filter down-sampling by an integer factor (how the paper makes its low-resolution reals)."""
    if factor == 1:
        return images
    count, height, width, channels = images.shape
    blocks = images.reshape(count, height // factor, factor, width // factor, factor, channels)
    return blocks.mean(axis=(2, 4), dtype=np.float32)
