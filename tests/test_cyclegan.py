"""vintagify's CycleGAN ResNet-9 generator in Keras 3: the torch checkpoint is read without torch (and safely),
each composed layer computes what its torch layer computes (checked against numpy written from torch's
definitions), the whole port computes the torch network, and on a real photo it keeps the structure."""

import importlib.metadata
import importlib.resources
import os
import pickle
import zipfile

import cv2
import keras
import numpy as np
import pytest

from gandct.errors import GandctError
from gandct.gan import cyclegan
from gandct.gan.cyclegan import (
    CHECKPOINT,
    DISTRIBUTION,
    MULTIPLE,
    ReflectionPadding2D,
    build_generator,
    load_generator,
    read_torch_checkpoint,
    translate,
)
from gandct.images import load_rgb


def checkpoint_path():
    return importlib.metadata.distribution(DISTRIBUTION).locate_file(CHECKPOINT)


@pytest.fixture(scope="module")
def tensors() -> dict[str, np.ndarray]:
    return read_torch_checkpoint(checkpoint_path())


@pytest.fixture(scope="module")
def generator() -> keras.Model:
    return load_generator()


# torch's layers on one (C, H, W) float64 image, written from their definitions in torch's documentation.
def torch_conv2d(x, weight, bias, stride=1, padding=0):
    """out[o, i, j] = bias[o] + sum_{c, a, b} weight[o, c, a, b] * x_zero_padded[c, stride * i + a, stride * j + b]."""
    padded = np.pad(x, ((0, 0), (padding, padding), (padding, padding)))
    size = weight.shape[2]
    rows, cols = ((side - size) // stride + 1 for side in padded.shape[1:])
    out = np.zeros((weight.shape[0], rows, cols)) + bias[:, None, None]
    for a in range(size):
        for b in range(size):
            patch = padded[:, a : a + stride * (rows - 1) + 1 : stride, b : b + stride * (cols - 1) + 1 : stride]
            out += np.einsum("oc,chw->ohw", weight[:, :, a, b], patch)
    return out


def torch_conv_transpose2d(x, weight, bias, stride, padding, output_padding):
    """Input pixel (i, j) adds weight[c, o, a, b] * x[c, i, j] at (stride * i + a, stride * j + b) of the full
    output; torch keeps (H - 1) * stride - 2 * padding + size + output_padding rows of it from row `padding` on."""
    _, height, width = x.shape
    size = weight.shape[2]
    full = np.zeros(
        (weight.shape[1], (height - 1) * stride + size + output_padding, (width - 1) * stride + size + output_padding)
    )
    for a in range(size):
        for b in range(size):
            full[:, a : a + stride * (height - 1) + 1 : stride, b : b + stride * (width - 1) + 1 : stride] += np.einsum(
                "co,chw->ohw", weight[:, :, a, b], x
            )
    rows = (height - 1) * stride - 2 * padding + size + output_padding
    cols = (width - 1) * stride - 2 * padding + size + output_padding
    return full[:, padding : padding + rows, padding : padding + cols] + bias[:, None, None]


def torch_reflection_pad(x, pad):
    """ReflectionPad2d: the mirror image about the edge pixel, which is not repeated (numpy's 'reflect')."""
    return np.pad(x, ((0, 0), (pad, pad), (pad, pad)), mode="reflect")


def torch_instance_norm(x, weight, bias, eps=1e-5):
    """InstanceNorm2d(affine=True): each channel to zero mean and unit (biased) variance over H and W, then scaled."""
    mean = x.mean(axis=(1, 2), keepdims=True)
    variance = x.var(axis=(1, 2), keepdims=True)
    return (x - mean) / np.sqrt(variance + eps) * weight[:, None, None] + bias[:, None, None]


def torch_generator(t, x):
    """vintagify's ResnetGenerator.forward on one (3, H, W) image, module by module by state-dict name."""

    def conv(x, name, **kwargs):
        return torch_conv2d(x, t[f"{name}.weight"], t[f"{name}.bias"], **kwargs)

    def norm(x, name):
        return torch_instance_norm(x, t[f"{name}.weight"], t[f"{name}.bias"])

    relu = lambda x: np.maximum(x, 0)  # noqa: E731
    x = relu(norm(conv(torch_reflection_pad(x, 3), "model.1"), "model.2"))
    x = relu(norm(conv(x, "model.4", stride=2, padding=1), "model.5"))
    x = relu(norm(conv(x, "model.7", stride=2, padding=1), "model.8"))
    for block in range(10, 19):
        b = f"model.{block}.block"
        y = relu(norm(conv(torch_reflection_pad(x, 1), f"{b}.1"), f"{b}.2"))
        x = x + norm(conv(torch_reflection_pad(y, 1), f"{b}.5"), f"{b}.6")
    for up in (19, 22):
        x = torch_conv_transpose2d(x, t[f"model.{up}.weight"], t[f"model.{up}.bias"], 2, 1, 1)
        x = relu(norm(x, f"model.{up + 1}"))
    return np.tanh(conv(torch_reflection_pad(x, 3), "model.26"))


def keras_layers(model, *names, x):
    """Run one (C, H, W) image through the named layers of `model` in turn, in NHWC; return (C, H, W)."""
    y = x.transpose(1, 2, 0)[None].astype(np.float32)
    for name in names:
        y = model.get_layer(name)(y)
    return keras.ops.convert_to_numpy(y)[0].transpose(2, 0, 1)


def photo(side: int = 128) -> np.ndarray:
    """The astronaut, area-averaged to side x side: a real colour photo with faces, flags and edges."""
    rgb = load_rgb(importlib.resources.files("skimage") / "data/astronaut.png")
    return cv2.resize(rgb, (side, side), interpolation=cv2.INTER_AREA)


def gradient_magnitude(rgb: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return np.hypot(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))


def test_the_checkpoint_is_the_generators_state_dict_of_float32_tensors(tensors):
    assert len(tensors) == 94 and sum(array.size for array in tensors.values()) == 11_388_675
    assert {array.dtype for array in tensors.values()} == {np.dtype("<f4")}
    assert tensors["model.1.weight"].shape == (64, 3, 7, 7)  # Conv2d: (out, in, kh, kw)
    assert tensors["model.19.weight"].shape == (256, 128, 3, 3)  # ConvTranspose2d: (in, out, kh, kw)
    assert tensors["model.18.block.6.bias"].shape == (256,)
    # Trained weights, not an initialisation: the instance norms' scales are near 1 but not all equal.
    assert 0.5 < tensors["model.2.weight"].mean() < 1.5 and tensors["model.2.weight"].std() > 0.01


def test_a_strided_tensor_is_rebuilt_from_its_storage_and_one_past_it_is_refused():
    storage = np.arange(12, dtype=np.float32)
    # A transposed (2, 3) view at offset 2, strides in elements: column-major in the storage.
    np.testing.assert_array_equal(cyclegan._rebuild_tensor(storage, 2, (2, 3), (1, 2)), [[2, 4, 6], [3, 5, 7]])
    with pytest.raises(pickle.UnpicklingError, match="reaches past its storage"):
        cyclegan._rebuild_tensor(storage, 2, (2, 6), (1, 2))


class RemoveOnLoad:
    """Unpickles as os.remove(path): what a hostile checkpoint could make a plain pickle.load do."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return os.remove, (self.path,)


def test_a_pickle_naming_any_other_global_is_refused_before_it_runs(tmp_path):
    canary = tmp_path / "canary.txt"
    canary.write_text("still here")
    path = tmp_path / "hostile.pth"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hostile/data.pkl", pickle.dumps({"model.1.weight": RemoveOnLoad(canary)}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match=r"names (posix|os)\.remove, which a state dict does not need"):
        read_torch_checkpoint(path)
    assert canary.read_text() == "still here"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("weights/model.h5", b"")
    with pytest.raises(ValueError, match="not a torch zip checkpoint"):
        read_torch_checkpoint(path)


def test_a_stride_2_convolution_pads_one_pixel_on_every_side_as_torch_does(generator, tensors):
    for height, width in ((6, 10), (7, 9)):  # even sides are where Keras 'same' would differ
        x = np.random.default_rng(height).normal(size=(64, height, width))
        expected = torch_conv2d(x, tensors["model.4.weight"], tensors["model.4.bias"], stride=2, padding=1)
        got = keras_layers(generator, "model_4_pad", "model_4", x=x)
        assert got.shape == expected.shape == (128, (height + 1) // 2, (width + 1) // 2)
        np.testing.assert_allclose(got, expected, atol=2e-4)


def test_a_transposed_convolution_doubles_the_size_on_torchs_grid(generator, tensors):
    x = np.random.default_rng(1).normal(size=(256, 3, 5))
    expected = torch_conv_transpose2d(x, tensors["model.19.weight"], tensors["model.19.bias"], 2, 1, 1)
    got = keras_layers(generator, "model_19", "model_19_crop", x=x)
    assert got.shape == expected.shape == (128, 6, 10)
    np.testing.assert_allclose(got, expected, atol=2e-4)


def test_reflection_padding_mirrors_about_the_edge_pixel():
    # torch's documentation example: ReflectionPad2d(2) of arange(9).reshape(1, 1, 3, 3).
    grid = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
    padded = keras.ops.convert_to_numpy(ReflectionPadding2D(2)(grid))[0, :, :, 0]
    np.testing.assert_array_equal(padded[0], [8, 7, 6, 7, 8, 7, 6])
    np.testing.assert_array_equal(padded[:, 0], [8, 5, 2, 5, 8, 5, 2])
    x = np.random.default_rng(2).normal(size=(4, 5, 7))
    np.testing.assert_array_equal(
        keras_layers(keras.Sequential([ReflectionPadding2D(3, name="pad")]), "pad", x=x),
        torch_reflection_pad(x, 3).astype(np.float32),
    )


def test_group_normalization_with_a_group_per_channel_is_instance_norm(generator, tensors):
    x = np.random.default_rng(3).normal(loc=2.0, scale=3.0, size=(64, 5, 7))
    expected = torch_instance_norm(x, tensors["model.2.weight"], tensors["model.2.bias"])
    np.testing.assert_allclose(keras_layers(generator, "model_2", x=x), expected, atol=1e-4)


def test_every_checkpoint_tensor_sets_a_weight_and_the_port_computes_the_torch_network(generator, tensors):
    assert generator.count_params() == sum(array.size for array in tensors.values())
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in generator.layers)
    # No weight is left at its initial value (zero biases and betas, unit gammas).
    fresh = {layer.name: layer.get_weights() for layer in build_generator().layers}
    for layer in generator.layers:
        for index, array in enumerate(layer.get_weights()):
            assert not np.array_equal(array, fresh[layer.name][index]), (layer.name, index)
    # A non-square image (24 x 20: 6 x 5 at the bottleneck) catches a swapped height and width.
    x = photo(96)[40:64, 30:50].transpose(2, 0, 1) / 127.5 - 1.0
    expected = torch_generator(tensors, x)
    got = keras.ops.convert_to_numpy(generator(x.transpose(1, 2, 0)[None].astype(np.float32)))[0].transpose(2, 0, 1)
    assert got.shape == expected.shape == (3, 24, 20)
    np.testing.assert_allclose(got, expected, atol=1e-4)  # measured: 2.2e-6


def test_a_missing_package_or_checkpoint_and_a_mismatched_one_fail_loudly(monkeypatch, tensors):
    monkeypatch.setattr(cyclegan, "CHECKPOINT", "vintagify/resources/missing.pth")
    with pytest.raises(GandctError, match=r"vintagify has no .*missing\.pth: run `make requirements`"):
        load_generator()
    monkeypatch.setattr(cyclegan, "DISTRIBUTION", "gandct-no-such-distribution")
    with pytest.raises(GandctError, match=r"^gandct-no-such-distribution is not installed: run `make requirements`"):
        load_generator()
    monkeypatch.undo()
    for changed, message in (
        ({**tensors, "model.28.weight": np.zeros(3, np.float32)}, r"1 tensors match no weight.*model\.28\.weight"),
        ({k: v for k, v in tensors.items() if k != "model.5.bias"}, r"no tensor model\.5\.bias"),
        ({**tensors, "model.26.weight": tensors["model.26.weight"][:, :, :5, :5]}, r"model\.26\.weight: shape"),
    ):
        monkeypatch.setattr(cyclegan, "read_torch_checkpoint", lambda path, changed=changed: dict(changed))
        with pytest.raises(GandctError, match=message):
            load_generator()


def test_the_photo_keeps_its_structure_and_gets_a_new_colour(generator):
    rgb = photo(128)
    raw = keras.ops.convert_to_numpy(generator(rgb[None].astype(np.float32) / 127.5 - 1.0))
    assert raw.shape == (1, 128, 128, 3) and raw.min() >= -1 and raw.max() <= 1
    assert raw.std() > 0.3  # a picture, not a flat or saturated field
    vintage = translate(generator, rgb)
    assert vintage.shape == rgb.shape and vintage.dtype == np.uint8
    # The edges stay where they were: measured 0.96 at 128x128 (0.96 at 512x512 too).
    correlation = np.corrcoef(gradient_magnitude(rgb).ravel(), gradient_magnitude(vintage).ravel())[0, 1]
    assert correlation > 0.85, correlation
    # ... but it is not the photo: measured mean absolute difference 15.9 of 255, saturation 88.8 -> 78.4.
    assert np.abs(vintage.astype(int) - rgb).mean() > 8
    saturation = [cv2.cvtColor(image, cv2.COLOR_RGB2HSV)[..., 1].mean() for image in (rgb, vintage)]
    assert saturation[1] < saturation[0] - 5, saturation


def test_translate_keeps_a_size_that_is_not_a_multiple_of_four(generator):
    rgb = photo(128)[:36, :48]
    vintage = translate(generator, rgb)
    # Sides that are multiples of MULTIPLE go through as they are, scaled to [-1, 1] and back with rounding.
    raw = keras.ops.convert_to_numpy(generator(rgb[None].astype(np.float32) / 127.5 - 1.0))[0]
    np.testing.assert_array_equal(vintage, np.round((raw + 1) * 127.5).astype(np.uint8))
    # Others are mirror-padded on the bottom and right to the next multiple, and the top-left part is kept.
    odd = rgb[:33, :46]
    assert MULTIPLE == 4 and translate(generator, odd).shape == (33, 46, 3)
    padded = np.pad(odd, ((0, 3), (0, 2), (0, 0)), mode="reflect")
    np.testing.assert_array_equal(translate(generator, odd), translate(generator, padded)[:33, :46])
    with pytest.raises(ValueError, match="at least 8x8"):
        translate(generator, rgb[:7])
