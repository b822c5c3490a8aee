"""The seed ensemble users score with: the sigmoid of the seeds' mean logit, saved and loaded like one detector,
and explained by tf-keras-vis saliency through that mean logit."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from gandct import models, paths
from gandct.dct import DctStats, Moments, Preprocessing, log_spectra
from gandct.detector import Detector
from gandct.saliency import saliency_maps
from gandct.stages import train

SIZE = 16


def seed_model(seed: int) -> keras.Model:
    """An untrained paper CNN whose random weights come from `seed`."""
    keras.utils.set_random_seed(seed)
    return models.paper_cnn((SIZE, SIZE, 1), name="paper")


def logits(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """The output of a detector's `logit` layer (the input of its sigmoid)."""
    return keras.Model(model.input, model.get_layer("logit").output)(x).numpy()


@pytest.fixture(scope="module")
def members() -> dict[int, keras.Model]:
    return {seed: seed_model(seed) for seed in (0, 1)}


@pytest.fixture(scope="module")
def x() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(6, SIZE, SIZE, 1)).astype(np.float32)


def test_the_ensemble_is_the_sigmoid_of_the_members_mean_logit(members, x):
    ensemble = models.seed_ensemble(members, "paper")
    assert ensemble.name == "paper"
    assert [layer.name for layer in ensemble.layers] == ["spectrum", "seed_0", "seed_1", "mean_logit", "p_fake"]
    by_seed = [logits(member, x) for member in members.values()]
    assert not np.allclose(*by_seed, atol=1e-3)  # the seeds really are different models
    expected = 1 / (1 + np.exp(-np.mean(by_seed, axis=0, dtype=np.float64)))
    np.testing.assert_allclose(ensemble.predict(x, verbose=0), expected, rtol=1e-6, atol=1e-7)


def test_an_ensemble_of_one_is_that_member(members, x):
    alone = models.seed_ensemble({0: members[0]}, "paper")
    assert [layer.name for layer in alone.layers] == ["spectrum", "seed_0", "p_fake"]
    np.testing.assert_array_equal(alone.predict(x, verbose=0), members[0].predict(x, verbose=0))


def test_the_ensemble_saves_and_loads_safely_as_a_detector(members, x, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    preprocessing = Preprocessing(image_size=SIZE, crop="center", color="gray", jpeg_quality=None, eps=1e-3)
    framed = np.random.default_rng(1).integers(0, 256, size=(6, SIZE, SIZE, 1), dtype=np.uint8)
    paths.DCT_STATS.parent.mkdir(parents=True)
    DctStats.from_moments(Moments.of(log_spectra(framed, preprocessing.eps)), preprocessing).save(paths.DCT_STATS)
    ensemble, model_path = models.seed_ensemble(members, "paper"), tmp_path / "paper.keras"
    threshold = {"threshold": 0.4, "val_accuracy": 0.9, "val_balanced_accuracy": 0.9}
    train.save_with_threshold(ensemble, model_path, threshold)

    reloaded = keras.saving.load_model(model_path, safe_mode=True)
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), ensemble.predict(x, verbose=0))
    assert [layer.name for layer in reloaded.layers] == [layer.name for layer in ensemble.layers]
    for saved, weights in zip(reloaded.get_weights(), ensemble.get_weights(), strict=True):
        np.testing.assert_array_equal(saved, weights)
    detector = Detector.load(model_path)
    assert (detector.name, detector.kind, detector.threshold) == ("paper", "dct", 0.4)
    assert json.loads(paths.model_threshold(model_path).read_text())["threshold"] == 0.4
    np.testing.assert_allclose(
        detector.predict_framed(framed), ensemble.predict(detector.inputs(framed), verbose=0)[:, 0], rtol=1e-6
    )


def test_ensemble_saliency_is_the_gradient_of_the_mean_logit(members, x):
    """d mean logit / d input is the mean of the members' signed gradients; saliency_maps gives its absolute
    value (one channel), so it equals |mean of gradients|, not the mean of the members' |gradient| maps."""
    ensemble = models.seed_ensemble(members, "paper")
    inputs = tf.constant(x)
    gradients = []
    for member in members.values():
        logit_model = keras.Model(member.input, member.get_layer("logit").output)
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            logit = logit_model(inputs)
        gradients.append(tape.gradient(logit, inputs).numpy()[..., 0])
    expected = np.abs(np.mean(gradients, axis=0))

    maps = saliency_maps(ensemble, x)
    assert maps.shape == (len(x), SIZE, SIZE)
    np.testing.assert_allclose(maps, expected, rtol=1e-4, atol=1e-7)
    for member in members.values():
        assert not np.allclose(maps, saliency_maps(member, x), rtol=1e-3)
