"""The up-sampling zoo: auto-encoders that differ only in how their decoder up-samples (after AutoGAN, Zhang,
Karaman and Chang 2019, "Detecting and Simulating Artifacts in GAN Fake Images", WIFS, section 3). Each is
trained to reconstruct the train photos, so every photo gets a twin with its content and one decoder's trace.

The encoder halves the image with stride-2 convolutions; the decoder doubles it back with one family's
up-sampling block, then a 3x3 convolution:
- `nearest`: x2 nearest-neighbour, then a 3x3 convolution (the ProGAN's);
- `transposed`: a 4x4 stride-2 transposed convolution (the DCGAN's, CycleGAN's);
- `bilinear`: x2 bilinear, then a 3x3 convolution (close to StyleGAN2's filtered up-sampling);
- `pixel_shuffle`: a 3x3 convolution to 4x the channels, then depth-to-space (sub-pixel convolution, Shi et
  al. 2016), written as a fixed 2x2 stride-2 transposed convolution with 0/1 weights, which is exactly the
  periodic shuffle and keeps the saved model in built-in Keras layers.
No skip connections: every output pixel passes through the decoder's up-sampling. The loss is L1 alone: an
adversarial or spectral loss would pull the twin's spectrum towards the photo's, erasing the trace under study.
The network is fully convolutional (any image size divisible by the encoder's reduction); it trains on random
crops of the train photos, whose offsets keep the up-sampling grid's phase, so a step costs a fraction of a
whole image's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from gandct import paths
from gandct.gan.layers import pixel_shuffle
from gandct.gan.trainer import (
    Checkpoint,
    Phase,
    ResumableTrainer,
    layer_arrays,
    optimizer_arrays,
    restore_layers,
    restore_optimizer,
)
from gandct.params import Params

LEAK = 0.2
FAMILIES = paths.AUTOGAN_FAMILIES
LOSS_COLUMNS = ("step", "images", "l1")


def generator_name(family: str) -> str:
    """The generator a family's stage writes as: autogan_<family>."""
    return f"autogan_{family}"


@dataclass(frozen=True)
class AutoGANConfig:
    """Architecture and training length of one family's auto-encoder."""

    family: str  # how the decoder up-samples: one of FAMILIES
    channels: tuple[int, ...]  # encoder widths at full size, 1/2, 1/4, ...
    crop: int  # side of the random training crops (a multiple of the reduction)
    batch_size: int
    images: int  # crops shown in the whole run
    learning_rate: float
    seed: int = 0

    @classmethod
    def from_params(cls, params: Params, family: str) -> AutoGANConfig:
        """The configuration of `family` that the `autogan` section of params.yaml asks for."""
        section = params.autogan
        return cls(
            family=family,
            channels=tuple(section.channels),
            crop=section.crop,
            batch_size=section.batch_size,
            images=section.images,
            learning_rate=section.learning_rate,
            seed=params.seed,
        )

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}")
        if len(self.channels) < 2 or self.crop % self.reduction:
            raise ValueError(f"{len(self.channels)} channel widths do not fit crop {self.crop}")

    @property
    def reduction(self) -> int:
        """How many times smaller the encoder's output is than its input: image sides must be multiples of it."""
        return 2 ** (len(self.channels) - 1)


def _conv(x: object, width: int, size: int, strides: int, seeds: Iterator[int], name: str) -> object:
    """A 'same' convolution and its leaky ReLU."""
    init = keras.initializers.HeNormal(seed=next(seeds))
    conv = keras.layers.Conv2D(width, size, strides=strides, padding="same", kernel_initializer=init, name=name)
    return keras.layers.LeakyReLU(LEAK, name=f"{name}_act")(conv(x))


def upsample(x: object, width: int, family: str, seeds: Iterator[int], name: str) -> object:
    """One x2 up-sampling block of `family` to `width` channels (see the module docstring)."""
    if family in ("nearest", "bilinear"):
        x = keras.layers.UpSampling2D(2, interpolation=family, name=name)(x)
        return _conv(x, width, 3, 1, seeds, f"{name}_conv")
    if family == "transposed":
        init = keras.initializers.HeNormal(seed=next(seeds))
        x = keras.layers.Conv2DTranspose(width, 4, strides=2, padding="same", kernel_initializer=init, name=name)(x)
        return keras.layers.LeakyReLU(LEAK, name=f"{name}_act")(x)
    x = _conv(x, 4 * width, 3, 1, seeds, f"{name}_conv")
    return pixel_shuffle(x, width, name)


def build_autoencoder(config: AutoGANConfig) -> keras.Model:
    """RGB in [-1, 1] (any size divisible by `config.reduction`) in, its reconstruction (linear, ~[-1, 1]) out."""
    seeds = iter(range(config.seed * 1000 + 4000, config.seed * 1000 + 5000))
    images = keras.Input((None, None, 3), name="images")
    x = _conv(images, config.channels[0], 3, 1, seeds, "encode0")
    for level, width in enumerate(config.channels[1:], start=1):
        x = _conv(x, width, 4, 2, seeds, f"encode{level}")
    x = _conv(x, config.channels[-1], 3, 1, seeds, "bottleneck")
    for level in range(len(config.channels) - 2, -1, -1):
        x = upsample(x, config.channels[level], config.family, seeds, f"up{level}")
        x = _conv(x, config.channels[level], 3, 1, seeds, f"decode{level}")
    # The ProGAN's to-RGB: a linear 1x1 convolution.
    rgb = keras.layers.Conv2D(3, 1, kernel_initializer=keras.initializers.GlorotUniform(next(seeds)), name="to_rgb")(x)
    return keras.Model(images, rgb, name=generator_name(config.family))


def reconstruct(autoencoder: keras.Model, images: np.ndarray, reduction: int) -> np.ndarray:
    """The auto-encoder's float output for a batch of same-size images in [-1, 1], at their own size: sides
    that are not multiples of `reduction` are mirror-padded on the bottom and right, then cropped back."""
    height, width = images.shape[1:3]
    pad = (-height % reduction, -width % reduction)
    padded = np.pad(images, ((0, 0), (0, pad[0]), (0, pad[1]), (0, 0)), mode="reflect")
    return keras.ops.convert_to_numpy(autoencoder(padded, training=False))[:, :height, :width]


class AutoGANTrainer(ResumableTrainer):
    """Train one family's auto-encoder by L1 on random crops of `reals` (Adam, cosine-decayed learning rate);
    batches are keyed by seed and step, so a resumed run draws what the uninterrupted one would have drawn."""

    loss_columns = LOSS_COLUMNS
    shown = ("l1",)

    def __init__(
        self,
        config: AutoGANConfig,
        reals: np.ndarray,
        checkpoint: Checkpoint | None = None,
        checkpoint_seconds: float = 60.0,
    ) -> None:
        """`reals`: float32 images in [-1, 1] of shape (count, side, side, 3), side >= config.crop."""
        phase = Phase(f"{config.crop}x{config.crop} crops", config.images, config.batch_size)
        super().__init__(generator_name(config.family), [phase], checkpoint, checkpoint_seconds)
        self.config = config
        self.generator = build_autoencoder(config)
        # Cosine decay to zero over the run (Loshchilov and Hutter 2017): large early steps, and final weights
        # not left wherever the last large step threw them.
        schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, max(1, self.total_steps))
        self.optimizer = keras.optimizers.Adam(schedule)
        self.optimizer.build(self.generator.trainable_variables)
        self.reals = keras.ops.convert_to_tensor(reals)
        self._train_step = self._build_step(reals.shape[1])

    def _build_step(self, side: int) -> object:
        config, autoencoder, optimizer = self.config, self.generator, self.optimizer
        offsets = (side - config.crop) // config.reduction + 1  # crop corners on the up-sampling grid

        @tf.function(autograph=False)
        def train_step(step: tf.Tensor) -> tf.Tensor:
            seed = tf.stack([tf.constant(config.seed, tf.int64), step])
            picks = tf.random.stateless_uniform(
                (config.batch_size,), seed, maxval=tf.shape(self.reals)[0], dtype=tf.int32
            )
            corner = tf.random.stateless_uniform((2,), seed + 1, maxval=offsets, dtype=tf.int32) * config.reduction
            # A slice of static size, so every layer (bilinear resizing too) sees the crop's shape.
            begin = tf.stack([0, corner[0], corner[1], 0])
            real = tf.slice(tf.gather(self.reals, picks), begin, [config.batch_size, config.crop, config.crop, 3])
            with tf.GradientTape() as tape:
                l1 = tf.reduce_mean(tf.abs(autoencoder(real, training=True) - real))
            variables = autoencoder.trainable_variables
            optimizer.apply_gradients(zip(tape.gradient(l1, variables), variables, strict=True))
            return l1

        return train_step

    def train_step(self, phase: Phase) -> dict[str, float]:
        return {"l1": float(self._train_step(keras.ops.convert_to_tensor(self.state.step, "int64")))}

    def checkpoint_arrays(self) -> dict[str, np.ndarray]:
        return {**layer_arrays("g", self.generator.layers), **optimizer_arrays("g_opt", self.optimizer)}

    def restore_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        restore_layers("g", self.generator.layers, arrays)
        restore_optimizer("g_opt", self.optimizer, arrays)
