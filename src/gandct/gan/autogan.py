"""AutoGAN, the up-sampling simulator (Zhang, Karaman and Chang 2019, "Detecting and Simulating Artifacts in
GAN Fake Images", WIFS, section 3): an auto-encoder whose decoder up-samples as GAN generators do, trained to
reconstruct real images, so that each real image gets a twin with the same content.

The encoder halves the image with stride-2 convolutions; the decoder doubles it back, by default as the
ProGAN does (nearest-neighbour x2, then a 3x3 convolution), or with 4x4 stride-2 transposed convolutions (the
DCGAN's); in both a second 3x3 convolution follows, so only the up-sampling differs. No skip connections: every
output pixel passes through the decoder's up-sampling. The loss is L1 reconstruction plus the non-saturating
loss of a small patch discriminator (the paper's recipe, after pix2pix and CycleGAN). Both networks are fully
convolutional (any image size divisible by the encoder's reduction) and built from Keras' own layers, so the
saved auto-encoder loads with `safe_mode=True` without this package.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from gandct.gan.losses import logistic_discriminator_loss, non_saturating_generator_loss
from gandct.gan.trainer import PairTrainer
from gandct.params import Params

LEAK = 0.2
UPSAMPLING = ("nearest", "transposed")
LOSS_COLUMNS = ("step", "images", "d_loss", "g_loss", "l1", "adversarial")


@dataclass(frozen=True)
class AutoGANConfig:
    """Architecture and training length of the auto-encoder and its patch discriminator."""

    resolution: int  # side of the training images
    channels: tuple[int, ...]  # encoder widths at full size, 1/2, 1/4, ...
    discriminator_channels: tuple[int, ...]
    upsampling: str  # "nearest" or "transposed"
    batch_size: int
    images: int  # real images shown in the whole run
    learning_rate: float
    l1_weight: float
    adversarial_weight: float
    seed: int = 0

    @classmethod
    def from_params(cls, params: Params) -> AutoGANConfig:
        """The configuration the `autogan` section (and augment.resolution) of params.yaml asks for."""
        values = params.autogan.model_dump()
        values.update({key: tuple(values[key]) for key in ("channels", "discriminator_channels")})
        return cls(resolution=params.augment.resolution, seed=params.seed, **values)

    def __post_init__(self) -> None:
        if self.upsampling not in UPSAMPLING:
            raise ValueError(f"upsampling must be one of {UPSAMPLING}, got {self.upsampling!r}")
        if len(self.channels) < 2 or self.resolution % self.reduction:
            raise ValueError(f"{len(self.channels)} channel widths do not fit resolution {self.resolution}")

    @property
    def reduction(self) -> int:
        """How many times smaller the encoder's output is than its input: image sides must be multiples of it."""
        return 2 ** (len(self.channels) - 1)


def _he_normal(seeds: Iterator[int]) -> keras.initializers.Initializer:
    return keras.initializers.HeNormal(seed=next(seeds))


def _conv(x: object, width: int, size: int, strides: int, seeds: Iterator[int], name: str) -> object:
    """A 'same' convolution and its leaky ReLU."""
    init = _he_normal(seeds)
    conv = keras.layers.Conv2D(width, size, strides=strides, padding="same", kernel_initializer=init, name=name)
    return keras.layers.LeakyReLU(LEAK, name=f"{name}_act")(conv(x))


def build_autoencoder(config: AutoGANConfig) -> keras.Model:
    """RGB in [-1, 1] (any size divisible by `config.reduction`) in, its reconstruction (linear, ~[-1, 1]) out."""
    seeds = iter(range(config.seed * 1000 + 4000, config.seed * 1000 + 5000))
    images = keras.Input((None, None, 3), name="images")
    x = _conv(images, config.channels[0], 3, 1, seeds, "encode0")
    for level, width in enumerate(config.channels[1:], start=1):
        x = _conv(x, width, 4, 2, seeds, f"encode{level}")
    x = _conv(x, config.channels[-1], 3, 1, seeds, "bottleneck")
    for level in range(len(config.channels) - 2, -1, -1):
        width = config.channels[level]
        if config.upsampling == "nearest":
            x = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"up{level}")(x)
            x = _conv(x, width, 3, 1, seeds, f"decode{level}a")
        else:
            up = keras.layers.Conv2DTranspose(
                width, 4, strides=2, padding="same", kernel_initializer=_he_normal(seeds), name=f"up{level}"
            )
            x = keras.layers.LeakyReLU(LEAK, name=f"up{level}_act")(up(x))
        x = _conv(x, width, 3, 1, seeds, f"decode{level}b")
    # The ProGAN's to-RGB: a linear 1x1 convolution.
    rgb = keras.layers.Conv2D(3, 1, kernel_initializer=keras.initializers.GlorotUniform(next(seeds)), name="to_rgb")(x)
    return keras.Model(images, rgb, name=f"autogan_{config.upsampling}")


def build_patch_discriminator(config: AutoGANConfig) -> keras.Model:
    """RGB image in, one logit per overlapping patch out (a PatchGAN, Isola et al. 2017, section 3.2)."""
    seeds = iter(range(config.seed * 1000 + 5000, config.seed * 1000 + 6000))
    images = keras.Input((None, None, 3), name="images")
    x = images
    for index, width in enumerate(config.discriminator_channels):
        x = _conv(x, width, 4, 2, seeds, f"conv{index}")
    logits = keras.layers.Conv2D(1, 3, padding="same", kernel_initializer=_he_normal(seeds), name="logits")(x)
    return keras.Model(images, logits, name="autogan_patch_critic")


def reconstruct(autoencoder: keras.Model, images: np.ndarray, reduction: int) -> np.ndarray:
    """The auto-encoder's float output for a batch of same-size images in [-1, 1], at their own size: sides
    that are not multiples of `reduction` are mirror-padded on the bottom and right, then cropped back."""
    height, width = images.shape[1:3]
    pad = (-height % reduction, -width % reduction)
    padded = np.pad(images, ((0, 0), (0, pad[0]), (0, pad[1]), (0, 0)), mode="reflect")
    return keras.ops.convert_to_numpy(autoencoder(padded, training=False))[:, :height, :width]


class AutoGANTrainer(PairTrainer):
    """Train the auto-encoder (`generator`) and its patch discriminator in one phase; batches are keyed by seed
    and step."""

    name = "autogan"
    loss_columns = LOSS_COLUMNS
    shown = ("l1", "d_loss")

    @staticmethod
    def build_networks(config: AutoGANConfig) -> tuple[keras.Model, keras.Model]:
        return (build_autoencoder(config), build_patch_discriminator(config))

    def build_step(self) -> Callable:
        config = self.config
        autoencoder, discriminator = self.generator, self.discriminator
        g_optimizer, d_optimizer = self.optimizers

        @tf.function(autograph=False)
        def train_step(step: tf.Tensor) -> tuple[tf.Tensor, ...]:
            seed = tf.stack([tf.constant(config.seed, tf.int64), step])
            count = tf.shape(self.reals)[0]
            real = tf.gather(
                self.reals, tf.random.stateless_uniform((config.batch_size,), seed, maxval=count, dtype=tf.int32)
            )
            # One forward pass feeds both updates, as in pix2pix: the discriminator learns on this step's output.
            with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
                rebuilt = autoencoder(real, training=True)
                fake_logits = discriminator(rebuilt, training=True)
                d_loss = logistic_discriminator_loss(discriminator(real, training=True), fake_logits)
                l1 = tf.reduce_mean(tf.abs(rebuilt - real))
                adversarial = non_saturating_generator_loss(fake_logits)
                g_loss = config.l1_weight * l1 + config.adversarial_weight * adversarial
            g_vars, d_vars = autoencoder.trainable_variables, discriminator.trainable_variables
            g_optimizer.apply_gradients(zip(g_tape.gradient(g_loss, g_vars), g_vars, strict=True))
            d_optimizer.apply_gradients(zip(d_tape.gradient(d_loss, d_vars), d_vars, strict=True))
            return d_loss, g_loss, l1, adversarial

        return train_step
