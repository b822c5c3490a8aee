"""Progressive GAN (Karras et al. 2018, "Progressive Growing of GANs", sections 2-4), small enough for a CPU.

Generator and discriminator grow from 4x4 to the target resolution, doubling each phase. A new
resolution first fades in (its block's output blended with the up-sampled old output by an alpha that
goes 0 -> 1), then trains stable. The paper's architectural stabilisers are here: pixel-wise feature
normalisation in the generator, minibatch standard deviation in the discriminator's last block,
equalised learning rate, leaky ReLU 0.2. How it trains is `gandct.gan.progan_trainer`; how the trained
generator is saved, `gandct.gan.progan_export`.

Each resolution's block is a small Functional sub-model, built once; the growing training graphs of
every resolution call the same blocks, so the weights carry over from phase to phase. Every training
graph takes `alpha` as a second input (shape (batch, 1)) except the 4x4 ones, which have nothing to fade.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import keras

from gandct.gan.layers import HE_GAIN, EqualizedConv2D, EqualizedDense, Fade, MinibatchStddev, PixelNorm
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
