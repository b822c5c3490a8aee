"""The opt-in ImageNet architectures: built from keras.applications on pixels, trained like the others,
and ImageNet weights taken only from the Keras cache, never downloaded."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from helpers import write_features, write_tiny_params

from gandct import models, paths
from gandct.detector import Detector
from gandct.errors import GandctError
from gandct.params import load_params
from gandct.stages import train


@pytest.mark.parametrize("name", sorted(models.IMAGENET))
def test_each_architecture_takes_small_gray_pixels(name):
    model = models.imagenet_net((16, 16, 1), name)
    assert model.name == name and model.input_shape == (None, 16, 16, 1) and model.output_shape == (None, 1)
    backbone = next(layer for layer in model.layers if isinstance(layer, keras.Model))
    side = max(16, models.IMAGENET[name].min_side)
    assert backbone.input_shape == (None, side, side, 3)
    assert backbone.get_weights()[0].shape != ()  # a real network, freshly initialised
    momenta = [layer.momentum for layer in backbone.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert momenta and max(momenta) <= models.BATCH_NORM_MOMENTUM


def test_caffe_scaling_turns_rgb_pixels_into_bgr_minus_the_mean():
    model = models.imagenet_net((32, 32, 3), "resnet152")
    inputs = model.input
    scaled = keras.Model(inputs, model.get_layer("rgb_to_bgr").output)
    pixels = np.full((1, 32, 32, 3), -1.0, np.float32)
    pixels[..., 0] = 1.0  # pure red in [-1, 1]
    out = scaled.predict(pixels, verbose=0)[0, 0, 0]
    np.testing.assert_allclose(out, [0.0, 0.0, 255.0], atol=1e-3)  # red lands in the last (R of BGR) channel


def test_an_imagenet_architecture_trains_through_the_train_stage(tmp_path, monkeypatch):
    write_features(tmp_path)
    write_tiny_params(tmp_path, seeds=[0])
    monkeypatch.chdir(tmp_path)
    summary = train.train_detector("xception", load_params())
    assert summary["features"] == "pixels" and summary["seeds"]["0"]["epochs_run"] >= 1
    detector = Detector.load(paths.detector_model("xception"))
    reloaded = keras.saving.load_model(paths.seed_model("xception", 0), safe_mode=True)
    x = detector.inputs(np.load(paths.features_file("test", "pixels.npy"))[:4])
    np.testing.assert_allclose(
        reloaded.predict(x, verbose=0), detector.model.predict(x, verbose=0), rtol=1e-4, atol=1e-5
    )


def test_imagenet_weights_only_from_the_keras_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(GandctError, match=r"densenet121_weights_tf_dim_ordering_tf_kernels_notop\.h5 is not there"):
        models.imagenet_net((32, 32, 1), "densenet121", weights="imagenet")
    # A weights file in the cache is used as it is (here one written from a fresh network, not ImageNet's).
    cached = keras.applications.DenseNet121(include_top=False, weights=None, input_shape=(32, 32, 3), pooling="avg")
    (tmp_path / "models").mkdir()
    # keras.applications caches legacy HDF5 files, which Keras 3 writes only as a whole model (load_weights
    # reads the weights out of it).
    legacy = tmp_path / "models" / "densenet121.h5"
    cached.save(legacy)
    legacy.rename(tmp_path / "models" / models.IMAGENET["densenet121"].weights_file)
    model = models.imagenet_net((32, 32, 1), "densenet121", weights="imagenet")
    backbone = next(layer for layer in model.layers if isinstance(layer, keras.Model))
    for loaded, saved in zip(backbone.get_weights(), cached.get_weights(), strict=True):
        np.testing.assert_array_equal(loaded, saved)
