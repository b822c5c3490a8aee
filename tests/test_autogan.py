"""The up-sampling zoo's auto-encoders (four decoder families, any image size, plain Keras), their training on
crops, their params, the twins' PSNR and the real/twin pairing the report draws."""

import keras
import numpy as np
import pytest
import yaml
from helpers import REPO, deep_update, images_in_plain_keras, photo_like

from gandct import paths
from gandct.errors import ParamsError
from gandct.gan.autogan import (
    FAMILIES,
    AutoGANConfig,
    AutoGANTrainer,
    build_autoencoder,
    reconstruct,
)
from gandct.gan.layers import depth_to_space_kernel
from gandct.images import as_gray, is_gray
from gandct.params import parse_params
from gandct.stages.autogan import twin_images
from gandct.stages.quality import psnr
from gandct.twins import twin_pairs


def config(family: str = "nearest", channels: tuple[int, ...] = (4, 8, 8), images: int = 8) -> AutoGANConfig:
    return AutoGANConfig(family=family, channels=channels, crop=8, batch_size=4, images=images, learning_rate=0.001)


def params_with(overrides: dict) -> dict:
    return deep_update(yaml.safe_load((REPO / "params.yaml").read_text()), overrides)


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_keeps_the_image_size_with_builtin_layers_and_no_path_around_the_decoder(family):
    model = build_autoencoder(config(family))
    assert model.__class__.__name__ == "Functional" and model.name == f"autogan_{family}"
    assert all(type(layer).__module__.startswith("keras.") for layer in model.layers)
    images = np.random.default_rng(0).uniform(-1, 1, (2, 16, 16, 3)).astype(np.float32)
    assert model(images).shape == (2, 16, 16, 3)
    # A side that is not a multiple of 4 (two halvings) is padded for the network and cropped back.
    odd = np.random.default_rng(1).uniform(-1, 1, (3, 18, 23, 3)).astype(np.float32)
    assert reconstruct(model, odd, config(family).reduction).shape == (3, 18, 23, 3)
    # No path around the decoder: nothing merges two tensors, so there is no skip connection.
    assert not any(isinstance(layer, keras.layers.Concatenate | keras.layers.Add) for layer in model.layers)
    ups = [layer for layer in model.layers if layer.name in ("up0", "up1")]
    assert len(ups) == 2
    kinds = {
        "nearest": lambda layer: isinstance(layer, keras.layers.UpSampling2D) and layer.interpolation == "nearest",
        "bilinear": lambda layer: isinstance(layer, keras.layers.UpSampling2D) and layer.interpolation == "bilinear",
        "transposed": lambda layer: isinstance(layer, keras.layers.Conv2DTranspose) and layer.kernel_size == (4, 4),
        "pixel_shuffle": lambda layer: (
            isinstance(layer, keras.layers.Conv2DTranspose) and layer.kernel_size == (2, 2) and not layer.trainable
        ),
    }
    assert all(kinds[family](layer) for layer in ups)


def test_the_pixel_shuffle_is_exactly_depth_to_space():
    width = 3
    features = np.random.default_rng(2).normal(size=(2, 5, 7, 4 * width)).astype(np.float32)
    shuffle = keras.layers.Conv2DTranspose(
        width,
        2,
        strides=2,
        use_bias=False,
        kernel_initializer=keras.initializers.Constant(depth_to_space_kernel(width)),
    )
    expected = np.asarray(keras.ops.depth_to_space(features, 2)) if hasattr(keras.ops, "depth_to_space") else None
    if expected is None:
        import tensorflow as tf

        expected = tf.nn.depth_to_space(features, 2).numpy()
    np.testing.assert_array_equal(shuffle(features).numpy(), expected)


def test_the_pixel_shuffle_family_trains_only_its_convolutions():
    reals = np.random.default_rng(4).uniform(-1, 1, (4, 16, 16, 3)).astype(np.float32)
    trainer = AutoGANTrainer(config("pixel_shuffle"), reals)
    before = {layer.name: [w.copy() for w in layer.get_weights()] for layer in trainer.generator.layers}
    trainer.train(progress=False)
    for layer in trainer.generator.layers:
        changed = any(not np.array_equal(a, b) for a, b in zip(before[layer.name], layer.get_weights(), strict=True))
        if layer.name in ("up0", "up1"):
            assert not changed, layer.name
        elif layer.get_weights():
            assert changed, layer.name


def test_the_saved_autoencoder_runs_in_plain_keras(tmp_path):
    model = build_autoencoder(config("pixel_shuffle"))
    model.save(tmp_path / "autoencoder.keras")
    images = np.random.default_rng(2).uniform(-1, 1, (2, 16, 16, 3)).astype(np.float32)
    plain = images_in_plain_keras(tmp_path / "autoencoder.keras", images, tmp_path)
    np.testing.assert_allclose(plain, model(images).numpy(), rtol=1e-5, atol=1e-6)


def test_training_on_crops_lowers_the_l1_loss_and_is_repeatable():
    rng = np.random.default_rng(3)
    reals = np.stack([photo_like(rng, 16) for _ in range(16)]).astype(np.float32) / 127.5 - 1
    runs = []
    for _ in range(2):
        trainer = AutoGANTrainer(config("nearest", channels=(8, 8), images=4 * 100), reals)
        trainer.train(progress=False)
        runs.append(trainer.history.column("l1"))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert runs[0][-10:].mean() < 0.7 * runs[0][:10].mean()


def test_psnr_is_the_textbook_formula():
    image = np.full((4, 4, 3), 100, np.uint8)
    off_by_five = image + np.uint8(5)
    assert psnr(off_by_five, image) == pytest.approx(10 * np.log10(255**2 / 25))
    assert psnr(image, image) == float("inf")


def test_crops_and_channels_that_do_not_fit_are_refused():
    with pytest.raises(ValueError, match="do not fit crop 8"):
        config(channels=(4, 4, 4, 4, 4, 4))
    with pytest.raises(
        ParamsError, match=r"autogan\.crop=24 must be at most augment\.resolution=64 and a multiple of 16"
    ):
        parse_params(params_with({"autogan": {"channels": [4] * 5, "crop": 24}}))
    with pytest.raises(ParamsError, match=r"autogan\.crop=128 must be at most augment\.resolution=64"):
        parse_params(params_with({"autogan": {"crop": 128}}))


def test_train_fakes_take_the_progan_and_the_families_once():
    for fakes in (["progan"], ["autogan_nearest"], ["progan", "autogan_bilinear", "autogan_pixel_shuffle"]):
        assert parse_params(params_with({"train": {"fakes": fakes}}))
    for fakes, message in (
        ([], r"train\.fakes"),
        (["stylegan"], r"train\.fakes\.0"),
        (["autogan"], r"train\.fakes\.0"),
        (["autogan_nearest"] * 2, "twice"),
    ):
        with pytest.raises(ParamsError, match=message):
            parse_params(params_with({"train": {"fakes": fakes}}))
    assert yaml.safe_load((REPO / "params.yaml").read_text())["train"]["fakes"] == ["progan"]
    # Every generator writes train and val fakes, so a leave-one-generator-out run may name any of them.
    mixed = parse_params(params_with({"train": {"fakes": list(paths.GENERATORS)}}))
    assert mixed.train.fakes == ["progan", "dcgan", *(f"autogan_{family}" for family in FAMILIES)]


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


def test_a_gray_photo_gets_a_gray_twin_and_a_colour_photo_keeps_the_decoders_colour():
    keras.utils.set_random_seed(0)
    model = build_autoencoder(config("nearest"))  # untrained: its output has chroma everywhere
    colour = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    gray = as_gray(colour)
    gray_twin, colour_twin = twin_images(model, [gray, colour], config("nearest").reduction)
    assert is_gray(gray_twin) and not is_gray(colour_twin)
    assert gray_twin.shape == colour_twin.shape == (16, 16, 3)
    alone = twin_images(model, [gray], config("nearest").reduction)[0]  # batched or alone, the same twin
    np.testing.assert_array_equal(alone, gray_twin)
