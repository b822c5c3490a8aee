"""A third party's CycleGAN generator, ported to Keras: vintagify's modern -> vintage photo translator (MIT), a
ResNet-9 generator whose weights ship as a torch checkpoint inside the `vintagify` wheel.

The checkpoint is read without torch (`read_torch_checkpoint`: a zip of raw little-endian storages and a pickle
that names them, unpickled with every global refused except the few a state dict needs), and the network is
rebuilt layer for layer from built-in Keras layers plus one reflection padding. Keras layers are named after the
torch modules they stand for (`model.10.block.5` -> `model_10_block_5`), so `load_generator` sets every weight
by name. Two torch layers have no Keras equivalent of the same name and are composed instead:
- Conv2d(k3, s2, p1) pads one pixel on every side; Keras 'same' pads 0 before and 1 after on even sizes, so the
  port zero-pads explicitly and convolves 'valid';
- ConvTranspose2d(k3, s2, p1, output_padding=1) puts input pixel i at output 2i + k - 1; Keras 'valid' puts it at
  2i + k (2H + 1 rows), so the port drops the first row and column.
InstanceNorm2d(affine=True) is GroupNormalization with one group per channel.
"""

from __future__ import annotations

import collections
import pickle
import zipfile
from pathlib import Path

import keras
import numpy as np

from gandct.errors import GandctError
from gandct.installed import package_file

DISTRIBUTION = "vintagify"
CHECKPOINT = "vintagify/resources/G_A2B_epoch33.pth"
MULTIPLE = 4  # two stride-2 down-samplers: input sides must be multiples of this
_MIN_SIDE = 2 * MULTIPLE  # the bottleneck's reflection padding of 1 needs 2 pixels there
_EPSILON = 1e-5  # torch's InstanceNorm2d default
_BLOCKS = 9
_TORCH_PARAMETER = {"kernel": "weight", "bias": "bias", "gamma": "weight", "beta": "bias"}  # Keras -> torch name
_STORAGES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


def _rebuild_tensor(storage: np.ndarray, offset: int, size: tuple, stride: tuple, *_: object) -> np.ndarray:
    """torch._utils._rebuild_tensor_v2 in numpy (requires_grad, hooks and metadata ignored): a copy of the
    strided view of `storage` (strides in elements), refused if it would reach outside the storage."""
    last = offset + sum((n - 1) * step for n, step in zip(size, stride, strict=True)) if all(size) else -1
    if offset < 0 or min(stride, default=0) < 0 or last >= storage.size:
        raise pickle.UnpicklingError(f"a tensor of size {size} reaches past its storage of {storage.size} values")
    strides = [step * storage.itemsize for step in stride]
    return np.lib.stride_tricks.as_strided(storage[offset:], size, strides, writeable=False).copy()


class _StateDictUnpickler(pickle.Unpickler):
    """Unpickles a torch state dict from its zip archive, refusing every global but a state dict's own."""

    def __init__(self, archive: zipfile.ZipFile, prefix: str) -> None:
        super().__init__(archive.open(f"{prefix}data.pkl"))
        self.archive, self.prefix, self.storages = archive, prefix, {}

    def find_class(self, module: str, name: str) -> object:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGES:
            return np.dtype(_STORAGES[name]).newbyteorder("<")
        raise pickle.UnpicklingError(f"the checkpoint names {module}.{name}, which a state dict does not need")

    def persistent_load(self, pid: tuple) -> np.ndarray:
        kind, dtype, key, _location, _count = pid  # ('storage', storage type, key, device, element count)
        if kind != "storage" or not isinstance(dtype, np.dtype):
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
        if key not in self.storages:
            self.storages[key] = np.frombuffer(self.archive.read(f"{self.prefix}data/{key}"), dtype)
        return self.storages[key]


def read_torch_checkpoint(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a torch state dict saved by `torch.save` (zip format), as numpy arrays by name, read
    without torch; a pickle that names anything but a state dict's tensors is an UnpicklingError."""
    with zipfile.ZipFile(path) as archive:
        pickles = [name for name in archive.namelist() if name.endswith("data.pkl")]
        if len(pickles) != 1:
            raise ValueError(f"{path}: not a torch zip checkpoint ({len(pickles)} data.pkl records)")
        state = _StateDictUnpickler(archive, pickles[0].removesuffix("data.pkl")).load()
    if not isinstance(state, dict) or not all(isinstance(value, np.ndarray) for value in state.values()):
        raise ValueError(f"{path}: not a state dict of tensors")
    return dict(state)


@keras.saving.register_keras_serializable(package="gandct")
class ReflectionPadding2D(keras.layers.Layer):
    """torch's ReflectionPad2d: mirror `padding` pixels on every side of an NHWC batch, excluding the edge."""

    def __init__(self, padding: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.padding = padding

    def call(self, inputs: object) -> object:
        pad = self.padding
        return keras.ops.pad(inputs, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        grow = [None if side is None else side + 2 * self.padding for side in input_shape[1:3]]
        return (input_shape[0], *grow, input_shape[3])

    def get_config(self) -> dict:
        return {**super().get_config(), "padding": self.padding}


# Zhu et al. 2017 (CycleGAN), Appendix 7.2: c7s1-64, d128, d256, R256 x 9, u128, u64, c7s1-3 (Johnson et al. 2016).
def _name(prefix: str, index: int, suffix: str = "") -> str:
    """The Keras name of torch module `<prefix><index>` (dots become underscores), plus `suffix`."""
    return f"{prefix}{index}{suffix}".replace(".", "_")


def _norm_relu(x: object, prefix: str, index: int, relu: bool = True) -> object:
    """InstanceNorm2d(affine=True) at `index`, then the ReLU at `index` + 1 (unless `relu` is False)."""
    x = keras.layers.GroupNormalization(groups=x.shape[-1], epsilon=_EPSILON, name=_name(prefix, index))(x)
    return keras.layers.ReLU(name=_name(prefix, index + 1))(x) if relu else x


def _reflect_conv(x: object, width: int, size: int, prefix: str, index: int) -> object:
    """ReflectionPad2d(size // 2) at `index` - 1, then a size x size 'valid' Conv2d at `index`."""
    x = ReflectionPadding2D(size // 2, name=_name(prefix, index - 1))(x)
    return keras.layers.Conv2D(width, size, name=_name(prefix, index))(x)


def _down(x: object, width: int, index: int) -> object:
    """Conv2d(k3, s2, p1) at `index` + InstanceNorm + ReLU: a one-pixel zero padding on every side, then 'valid'."""
    x = keras.layers.ZeroPadding2D(1, name=_name("model.", index, "_pad"))(x)
    x = keras.layers.Conv2D(width, 3, strides=2, name=_name("model.", index))(x)
    return _norm_relu(x, "model.", index + 1)


def _residual(x: object, index: int) -> object:
    """ResnetBlock at `index`: [ReflectionPad(1), Conv3x3, IN, ReLU, ReflectionPad(1), Conv3x3, IN] + the input."""
    prefix, width = f"model.{index}.block.", x.shape[-1]
    y = _norm_relu(_reflect_conv(x, width, 3, prefix, 1), prefix, 2)
    y = _norm_relu(_reflect_conv(y, width, 3, prefix, 5), prefix, 6, relu=False)
    return keras.layers.Add(name=_name("model.", index, "_add"))([x, y])


def _up(x: object, width: int, index: int) -> object:
    """ConvTranspose2d(k3, s2, p1, output_padding=1) at `index` + InstanceNorm + ReLU: a 'valid' transposed
    convolution (2H + 1 rows, input row i at 2i + k) less its first row and column."""
    x = keras.layers.Conv2DTranspose(width, 3, strides=2, name=_name("model.", index))(x)
    x = keras.layers.Cropping2D(((1, 0), (1, 0)), name=_name("model.", index, "_crop"))(x)
    return _norm_relu(x, "model.", index + 1)


def build_generator() -> keras.Model:
    """vintagify's ResnetGenerator(3, 3, ngf=64, n_blocks=9) in Keras, untrained: RGB in [-1, 1] of any size
    whose sides are multiples of MULTIPLE (and at least 8) in, RGB in [-1, 1] of the same size out."""
    images = keras.Input((None, None, 3), name="images")
    x = _norm_relu(_reflect_conv(images, 64, 7, "model.", 1), "model.", 2)
    x = _down(x, 128, 4)
    x = _down(x, 256, 7)
    for block in range(_BLOCKS):
        x = _residual(x, 10 + block)
    x = _up(x, 128, 19)
    x = _up(x, 64, 22)
    x = _reflect_conv(x, 3, 7, "model.", 26)
    rgb = keras.layers.Activation("tanh", name=_name("model.", 27))(x)
    return keras.Model(images, rgb, name="cyclegan_vintagify")


def load_generator() -> keras.Model:
    """`build_generator()` with every weight set from vintagify's checkpoint (G_A2B, epoch 33); a checkpoint
    tensor left unused, a model weight without its tensor or a shape that differs is a GandctError."""
    path = package_file(DISTRIBUTION, CHECKPOINT)
    unused = read_torch_checkpoint(path)
    model = build_generator()
    for layer in model.layers:
        module = layer.name.replace("_", ".")  # model_10_block_1 -> model.10.block.1
        for variable in layer.weights:
            key = f"{module}.{_TORCH_PARAMETER[variable.name]}"
            if key not in unused:
                raise GandctError(f"{path} has no tensor {key} for the port's weight {variable.path}")
            # Conv2d (out, in, kh, kw) -> (kh, kw, in, out); ConvTranspose2d (in, out, kh, kw) -> (kh, kw, out, in).
            array = unused.pop(key)
            array = array.transpose(2, 3, 1, 0) if array.ndim == 4 else array
            if array.shape != tuple(variable.shape):
                raise GandctError(f"{key}: shape {array.shape} in {path}, {tuple(variable.shape)} in the port")
            variable.assign(array)
    if unused:
        raise GandctError(f"{path}: {len(unused)} tensors match no weight of the port: {sorted(unused)[:4]}")
    return model


def translate(model: keras.Model, rgb: np.ndarray) -> np.ndarray:
    """The generator's 8-bit RGB translation of an 8-bit RGB image (H, W, 3), at its own size: sides that are
    not multiples of MULTIPLE are mirror-padded on the bottom and right for the network, then cropped back."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3 or min(rgb.shape[:2]) < _MIN_SIDE:
        raise ValueError(f"expected uint8 RGB of at least {_MIN_SIDE}x{_MIN_SIDE}, got {rgb.dtype} {rgb.shape}")
    height, width = rgb.shape[:2]
    pad = ((0, -height % MULTIPLE), (0, -width % MULTIPLE), (0, 0))
    images = np.pad(rgb.astype(np.float32) / 127.5 - 1.0, pad, mode="reflect")[None]
    out = keras.ops.convert_to_numpy(model(images, training=False))[0, :height, :width]
    return np.clip(np.round((out + 1.0) * 127.5), 0, 255).astype(np.uint8)
