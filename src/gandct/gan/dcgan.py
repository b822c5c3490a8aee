"""DCGAN (Radford et al. 2016, "Unsupervised Representation Learning with DCGANs", section 3): the
second, different generator for the unseen-generator test.

It up-samples with stride-2 transposed convolutions (4x4 kernels), which leave a different periodic
trace from the ProGAN's nearest-neighbour up-sampling followed by 3x3 convolutions. Batch norm and ReLU
in the generator, strided convolutions, batch norm and leaky ReLU in the discriminator, the
non-saturating logistic loss and Adam with beta1 = 0.5, as in the paper. Built-in Keras layers only, so
the saved generator loads in plain Keras.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import keras
import tensorflow as tf

from gandct.gan.losses import logistic_discriminator_loss, non_saturating_generator_loss
from gandct.gan.trainer import PairTrainer
from gandct.params import AugmentParams

LOSS_COLUMNS = ("step", "images", "d_loss", "g_loss")


@dataclass(frozen=True)
class DCGANConfig:
    """Architecture and training length of a DCGAN."""

    resolution: int
    latent_size: int
    channels: tuple[int, ...]  # generator feature maps at 4x4, 8x8, ..., resolution / 2
    images: int  # images shown to the discriminator in the whole run
    batch_size: int
    learning_rate: float
    seed: int = 0

    @classmethod
    def from_params(cls, augment: AugmentParams, seed: int) -> DCGANConfig:
        """The configuration the `augment` section of params.yaml asks for."""
        values = augment.dcgan.model_dump()
        return cls(resolution=augment.resolution, seed=seed, **{**values, "channels": tuple(values["channels"])})

    def __post_init__(self) -> None:
        if self.resolution < 8 or self.resolution & (self.resolution - 1):
            raise ValueError(f"resolution must be a power of two >= 8, got {self.resolution}")
        expected = int(math.log2(self.resolution)) - 2
        if len(self.channels) != expected:
            raise ValueError(f"resolution {self.resolution} needs {expected} channel widths, got {len(self.channels)}")


def _initializers(first_seed: int) -> Callable[[], keras.initializers.Initializer]:
    """A factory of the paper's N(0, 0.02) weight initialisers, each with its own seed."""
    seeds = iter(range(first_seed, first_seed + 1000))

    def initializer() -> keras.initializers.Initializer:
        return keras.initializers.RandomNormal(stddev=0.02, seed=next(seeds))

    return initializer


def build_generator(config: DCGANConfig) -> keras.Model:
    """Latent vector in, RGB image in [-1, 1] out, doubled in size by each transposed convolution."""
    init = _initializers(config.seed * 1000 + 2000)
    latent = keras.Input((config.latent_size,), name="latent")
    x = keras.layers.Dense(16 * config.channels[0], use_bias=False, kernel_initializer=init(), name="project")(latent)
    x = keras.layers.Reshape((4, 4, config.channels[0]), name="reshape")(x)
    x = keras.layers.ReLU(name="relu4")(keras.layers.BatchNormalization(momentum=0.9, name="norm4")(x))
    res = 4
    for width in config.channels[1:]:
        res *= 2
        x = keras.layers.Conv2DTranspose(
            width, 4, strides=2, padding="same", use_bias=False, kernel_initializer=init(), name=f"up{res}"
        )(x)
        x = keras.layers.ReLU(name=f"relu{res}")(keras.layers.BatchNormalization(momentum=0.9, name=f"norm{res}")(x))
    images = keras.layers.Conv2DTranspose(
        3, 4, strides=2, padding="same", activation="tanh", kernel_initializer=init(), name="to_rgb"
    )(x)
    return keras.Model(latent, images, name="dcgan_generator")


def build_discriminator(config: DCGANConfig) -> keras.Model:
    """RGB image in, one logit out; stride-2 convolutions mirror the generator's widths."""
    init = _initializers(config.seed * 1000 + 3000)
    images = keras.Input((config.resolution, config.resolution, 3), name="images")
    x = images
    for index, width in enumerate(reversed(config.channels)):
        x = keras.layers.Conv2D(width, 4, strides=2, padding="same", kernel_initializer=init(), name=f"conv{index}")(x)
        if index > 0:  # the paper leaves the first layer without batch norm
            x = keras.layers.BatchNormalization(momentum=0.9, name=f"norm{index}")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"act{index}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    return keras.Model(images, keras.layers.Dense(1, kernel_initializer=init(), name="logit")(x), name="dcgan_critic")


class DCGANTrainer(PairTrainer):
    """Train a DCGAN in one phase; random draws are keyed by the seed and the step number."""

    name = "dcgan"
    loss_columns = LOSS_COLUMNS

    @staticmethod
    def build_networks(config: DCGANConfig) -> tuple[keras.Model, keras.Model]:
        return (build_generator(config), build_discriminator(config))

    def build_step(self) -> Callable:
        config = self.config
        generator, discriminator = self.generator, self.discriminator
        g_optimizer, d_optimizer = self.optimizers
        batch = config.batch_size

        @tf.function(autograph=False)
        def train_step(step: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            def seed(salt: int) -> tf.Tensor:
                return tf.stack([tf.constant(config.seed, tf.int64), step * 4 + salt])

            index = tf.random.stateless_uniform((batch,), seed(0), maxval=tf.shape(self.reals)[0], dtype=tf.int32)
            real = tf.gather(self.reals, index)
            latents = tf.random.stateless_normal((batch, config.latent_size), seed(1))
            with tf.GradientTape() as tape:
                fake = generator(latents, training=True)
                real_logits = discriminator(real, training=True)
                fake_logits = discriminator(fake, training=True)
                d_loss = logistic_discriminator_loss(real_logits, fake_logits)
            d_vars = discriminator.trainable_variables
            d_optimizer.apply_gradients(zip(tape.gradient(d_loss, d_vars), d_vars, strict=True))

            latents = tf.random.stateless_normal((batch, config.latent_size), seed(2))
            with tf.GradientTape() as tape:
                g_loss = non_saturating_generator_loss(discriminator(generator(latents, training=True), training=True))
            g_vars = generator.trainable_variables
            g_optimizer.apply_gradients(zip(tape.gradient(g_loss, g_vars), g_vars, strict=True))
            return d_loss, g_loss

        return train_step
