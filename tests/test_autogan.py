"""The up-sampling simulator's networks (both up-sampling kinds, any image size, plain Keras), its params,
and the real/twin pairing the report draws."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import yaml
from conftest import REPO, deep_update, images_in_plain_keras

from gandct.errors import ParamsError
from gandct.gan.autogan import AutoGANConfig, build_autoencoder, build_patch_discriminator, reconstruct
from gandct.params import parse_params
from gandct.twins import twin_pairs


def config(upsampling: str = "nearest", channels: tuple[int, ...] = (4, 8, 8)) -> AutoGANConfig:
    return AutoGANConfig(
        resolution=16,
        channels=channels,
        discriminator_channels=(4, 8),
        upsampling=upsampling,
        batch_size=4,
        images=8,
        learning_rate=0.0002,
        l1_weight=100.0,
        adversarial_weight=1.0,
    )


def layer_types(model: keras.Model) -> list[type]:
    return [type(layer) for layer in model.layers]


@pytest.mark.parametrize("upsampling", ["nearest", "transposed"])
def test_the_autoencoder_keeps_the_image_size_and_uses_only_builtin_layers(upsampling):
    model = build_autoencoder(config(upsampling))
    assert model.__class__.__name__ == "Functional"
    assert all(type(layer).__module__.startswith("keras.") for layer in model.layers)
    images = np.random.default_rng(0).uniform(-1, 1, (2, 16, 16, 3)).astype(np.float32)
    assert model(images).shape == (2, 16, 16, 3)
    # A side that is not a multiple of 4 (two halvings) is padded for the network and cropped back.
    odd = np.random.default_rng(1).uniform(-1, 1, (3, 18, 23, 3)).astype(np.float32)
    assert reconstruct(model, odd, config(upsampling).reduction).shape == (3, 18, 23, 3)
    strided = [layer for layer in model.layers if getattr(layer, "strides", (1, 1)) == (2, 2)]
    assert len(strided) == 2 + 2 * (upsampling == "transposed")  # the encoder's two halvings (+ the decoder's)
    ups = [
        layer for layer in model.layers if isinstance(layer, keras.layers.UpSampling2D | keras.layers.Conv2DTranspose)
    ]
    assert len(ups) == 2
    if upsampling == "nearest":
        assert all(isinstance(layer, keras.layers.UpSampling2D) and layer.interpolation == "nearest" for layer in ups)
    else:
        assert all(isinstance(layer, keras.layers.Conv2DTranspose) and layer.kernel_size == (4, 4) for layer in ups)
    # No path around the decoder: every layer has one input, so there is no skip connection.
    assert not any(isinstance(layer, keras.layers.Concatenate | keras.layers.Add) for layer in model.layers)


def test_the_saved_autoencoder_runs_in_plain_keras(tmp_path):
    model = build_autoencoder(config("transposed"))
    model.save(tmp_path / "autoencoder.keras")
    images = np.random.default_rng(2).uniform(-1, 1, (2, 16, 16, 3)).astype(np.float32)
    plain = images_in_plain_keras(tmp_path / "autoencoder.keras", images, tmp_path)
    np.testing.assert_allclose(plain, model(images).numpy(), rtol=1e-5, atol=1e-6)


def test_the_patch_discriminator_gives_one_logit_per_patch():
    logits = build_patch_discriminator(config())(np.zeros((2, 16, 16, 3), np.float32))
    assert logits.shape == (2, 4, 4, 1)


def test_channels_that_halve_the_image_too_often_are_refused():
    with pytest.raises(ValueError, match="do not fit resolution 16"):
        config(channels=(4, 4, 4, 4, 4, 4))
    raw = deep_update(yaml.safe_load((REPO / "params.yaml").read_text()), {"autogan": {"channels": [4] * 8}})
    with pytest.raises(ParamsError, match=r"autogan\.channels: 8 widths halve the image 7 times"):
        parse_params(raw)
    raw = deep_update(yaml.safe_load((REPO / "params.yaml").read_text()), {"autogan": {"upsampling": "bilinear"}})
    with pytest.raises(ParamsError, match=r"autogan\.upsampling"):
        parse_params(raw)


def test_train_fakes_take_progan_autogan_or_both_once():
    base = yaml.safe_load((REPO / "params.yaml").read_text())
    for fakes in (["progan"], ["autogan"], ["progan", "autogan"]):
        assert parse_params(
            deep_update(yaml.safe_load((REPO / "params.yaml").read_text()), {"train": {"fakes": fakes}})
        )
    for fakes, message in (([], r"train\.fakes"), (["dcgan"], r"train\.fakes\.0"), (["autogan"] * 2, "twice")):
        with pytest.raises(ParamsError, match=message):
            parse_params(deep_update(yaml.safe_load((REPO / "params.yaml").read_text()), {"train": {"fakes": fakes}}))
    assert base["train"]["fakes"] == ["progan"]


def test_twins_pair_with_the_real_of_the_same_stem_and_shared_stems_are_left_out():
    rows = [
        {"path": "data/raw/real/a.png", "label": "0"},
        {"path": "data/raw/real/b.jpg", "label": "0"},
        {"path": "data/raw/x/c.png", "label": "0"},
        {"path": "data/raw/y/c.png", "label": "0"},  # two reals share the stem c
        {"path": "data/raw/real/lonely.png", "label": "0"},
        {"path": "gen/autogan/test/b.png", "label": "1"},
        {"path": "gen/autogan/test/a.png", "label": "1"},
        {"path": "gen/autogan/test/0123/c.png", "label": "1"},
        {"path": "gen/autogan/test/4567/c.png", "label": "1"},
    ]
    assert twin_pairs(rows) == [(0, 6), (1, 5)]
