"""The progan, dcgan and autogan stages on a small real project in tmp_path: inputs, counts, outputs, a user's
generator, an auto-encoder family's twins."""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections import Counter
from pathlib import Path

import cv2
import keras
import numpy as np
import pytest
import yaml
from helpers import REPO, TINY_AUGMENT, deep_update, images_in_plain_keras, photo_like

from gandct import paths
from gandct.dct import Preprocessing, frame_image
from gandct.errors import GandctError, ParamsError
from gandct.fileio import read_csv, write_csv
from gandct.gan import fakes
from gandct.gan.dcgan import DCGANConfig, build_generator
from gandct.gan.pixels import to_uint8, to_unit_range
from gandct.gan.progan import ProGAN, ProGANConfig
from gandct.gan.progan_export import export_generator
from gandct.images import load_rgb, save_png
from gandct.params import parse_params
from gandct.photos import SAMPLE_PHOTOS, load_photo
from gandct.stages import autogan, dcgan, progan
from gandct.twins import twin_paths

REAL_COUNTS = {"train": 12, "val": 4, "test": 4}


def write_reals(root: Path, size: int = 16, counts: dict[str, int] = REAL_COUNTS) -> list[dict[str, str]]:
    """Real photo-like PNGs and a manifest listing them, as the prepare stage leaves them."""
    rng = np.random.default_rng(0)
    rows = []
    for split, count in counts.items():
        for index in range(count):
            relative = f"data/raw/sample/real/{split}_{index:03d}.png"
            save_png(_mkparent(root / relative), photo_like(rng, size))
            digest = hashlib.sha256((root / relative).read_bytes()).hexdigest()
            rows.append(
                {"path": relative, "label": "real", "split": split, "group": split, "generator": "", "sha256": digest}
            )
    write_csv(root / paths.MANIFEST, fakes.COLUMNS, rows)
    return rows


def _mkparent(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def write_params(root: Path, overrides: dict) -> None:
    params = deep_update(yaml.safe_load((REPO / "params.yaml").read_text()), overrides)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    write_reals(tmp_path)
    return tmp_path


def test_load_train_reals_reads_only_the_train_split(project):
    manifest = read_csv(paths.MANIFEST)
    for row in manifest:
        if row["split"] != "train":
            os.remove(row["path"])  # reading any of these would fail
    reals, hashes = fakes.load_train_reals(manifest, 16, "center")
    assert reals.shape == (12, 16, 16, 3) and reals.dtype == np.float32
    assert reals.min() >= -1.0 and reals.max() <= 1.0
    # the reals are 16x16: their own view under either crop, named by their files alone
    assert hashes == [row["sha256"] for row in manifest if row["split"] == "train"]
    assert fakes.load_train_reals(manifest, 16, "resize")[1] == hashes


@pytest.mark.parametrize("crop", ["center", "resize"])
def test_the_gans_learn_the_view_the_detectors_read_of_larger_photos(crop, tmp_path, monkeypatch):
    """256 px photographs (the bundled ones, whole, scaled to 256): the GANs' train reals at 64 px are exactly
    the features stage's framed images of the same files, at native resolution (center) or whole (resize)."""
    monkeypatch.chdir(tmp_path)
    rows = []
    for name, photo in ((found.group, load_photo(found.origin)) for found in SAMPLE_PHOTOS[:6]):
        side = min(photo.shape[:2])
        square = photo[(photo.shape[0] - side) // 2 :, (photo.shape[1] - side) // 2 :][:side, :side]
        save_png(tmp_path / f"{name}.png", cv2.resize(square, (256, 256), interpolation=cv2.INTER_AREA))
        rows.append({"path": f"{name}.png", "label": "real", "split": "train", "group": name, "sha256": name})
    reals, identities = fakes.load_train_reals(rows, 64, crop)
    preprocessing = Preprocessing(image_size=64, crop=crop, color="rgb", jpeg_quality=None, eps=1e-3)
    framed = np.stack([frame_image(load_rgb(row["path"]), preprocessing) for row in rows])
    np.testing.assert_array_equal(to_uint8(reals), framed)
    assert identities == [f"{row['sha256']} {crop} view" for row in rows]  # the view changes these images
    photo = load_rgb(rows[0]["path"])
    expected = photo[96:160, 96:160] if crop == "center" else cv2.resize(photo, (64, 64), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(framed[0], expected)


def test_no_train_reals_is_one_clear_error():
    rows = [{"path": "a.png", "label": "real", "split": "val", "group": "a", "generator": "", "sha256": "x"}]
    with pytest.raises(GandctError, match="no train-split real images"):
        fakes.load_train_reals(rows, 8, "center")


def test_fake_counts_match_the_real_counts_unless_overridden(project):
    manifest = read_csv(paths.MANIFEST)
    splits = ("train", "val", "test")
    assert fakes.fake_counts(manifest, {}, splits) == {"train": 12, "val": 4, "test": 4}
    assert fakes.fake_counts(manifest, {"train": 3, "test": 0}, splits) == {"train": 3, "val": 4, "test": 0}
    assert fakes.fake_counts(manifest, {"train": 3}, ("test",)) == {"test": 4}


def test_params_reject_lists_that_do_not_fit_the_resolution():
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    parse_params(raw)  # the shipped params are valid
    bad = deep_update(yaml.safe_load((REPO / "params.yaml").read_text()), {"augment": {"resolution": 32}})
    with pytest.raises(ParamsError, match=r"augment: progan\.channels needs 4 values"):
        parse_params(bad)
    bad = deep_update(yaml.safe_load((REPO / "params.yaml").read_text()), {"augment": {"per_split": {"tests": 3}}})
    with pytest.raises(ParamsError, match=r"augment\.per_split\.tests"):
        parse_params(bad)


def test_dcgan_upsamples_with_transposed_convolutions():
    config = DCGANConfig(resolution=16, latent_size=8, channels=(8, 4), images=24, batch_size=4, learning_rate=0.0002)
    generator = build_generator(config)
    transposed = [layer for layer in generator.layers if isinstance(layer, keras.layers.Conv2DTranspose)]
    assert len(transposed) == 2 and all(layer.strides == (2, 2) for layer in transposed)
    assert not any(isinstance(layer, keras.layers.UpSampling2D) for layer in generator.layers)
    images = generator(np.zeros((2, 8), np.float32), training=False).numpy()
    assert images.shape == (2, 16, 16, 3) and np.abs(images).max() <= 1.0


def users_generator(path: Path, channels: int = 3) -> Path:
    """A small ProGAN generator saved as a user would bring it (optionally with the wrong channel count)."""
    config = ProGANConfig(
        resolution=16,
        latent_size=8,
        channels=(8, 8, 4),
        fade_images=(1, 1),
        stable_images=(1, 1, 1),
        batch_sizes=(4, 4, 4),
        learning_rate=0.001,
    )
    model = export_generator(ProGAN(config))
    if channels != 3:
        latent = keras.Input((8,))
        model = keras.Model(latent, keras.layers.Conv2D(channels, 1)(model(latent)))
    model.save(path)
    return path


def test_progan_stage_with_a_users_generator_writes_fakes_listing_and_figures(project):
    source = users_generator(project / "my_generator.keras")
    write_params(project, deep_update(copy.deepcopy(TINY_AUGMENT), {"augment": {"generator_path": str(source)}}))
    progan.main([])
    rows = read_csv(paths.generated_listing("progan"))
    assert list(rows[0]) == fakes.COLUMNS
    assert Counter(row["split"] for row in rows) == {"train": 12, "val": 4, "test": 4}
    assert {row["label"] for row in rows} == {"fake"} and {row["generator"] for row in rows} == {"progan"}
    for row in rows:
        assert row["group"] == f"progan-{row['split']}"
        assert row["path"].startswith(f"data/interim/generated/progan/{row['split']}/")
        assert hashlib.sha256(Path(row["path"]).read_bytes()).hexdigest() == row["sha256"]
    assert load_rgb(rows[0]["path"]).shape == (16, 16, 3)
    assert len({row["sha256"] for row in rows}) == len(rows)  # every fake is a new image
    assert paths.generator_model("progan").read_bytes() == source.read_bytes()
    for kind in ("samples", "growth", "losses"):
        assert paths.gan_figure("progan", kind).stat().st_size > 1000
    assert paths.gan_losses("progan").read_text().splitlines() == [
        "step\timages\tresolution\talpha\td_loss\tg_loss\tgradient_penalty\twasserstein"
    ]
    timings = json.loads(paths.gan_timings("progan").read_text())
    assert {"load train reals", "write fakes", "figures", "total", "reference workload"} <= set(timings["seconds"])
    assert timings["training_phases"] == {} and timings["reference_workload"]["seconds"] > 0
    assert not paths.generated_dir("dcgan").exists()  # the other generator's stage is not run


def test_dcgan_stage_writes_fakes_of_every_split_and_a_generator_plain_keras_loads(project, tmp_path_factory):
    write_params(project, TINY_AUGMENT)
    dcgan.main([])
    rows = read_csv(paths.generated_listing("dcgan"))
    # Train and val fakes too, so that train.fakes may name the DCGAN (leave-one-generator-out).
    assert Counter((row["split"], row["generator"]) for row in rows) == {
        ("train", "dcgan"): 12,
        ("val", "dcgan"): 4,
        ("test", "dcgan"): 4,
    }
    for row in rows:
        assert row["path"].startswith(f"data/interim/generated/dcgan/{row['split']}/")
        assert hashlib.sha256(Path(row["path"]).read_bytes()).hexdigest() == row["sha256"]
    for kind in ("samples", "losses"):
        assert paths.gan_figure("dcgan", kind).stat().st_size > 1000
    losses = paths.gan_losses("dcgan").read_text().splitlines()
    assert losses[0] == "step\timages\td_loss\tg_loss" and len(losses) == 3
    timings = json.loads(paths.gan_timings("dcgan").read_text())
    assert set(timings["training_phases"]) == {"16x16"} and "dcgan training" in timings["seconds"]
    generator = keras.saving.load_model(paths.generator_model("dcgan"), safe_mode=True, compile=False)
    latents = np.random.default_rng(2).normal(size=(3, 8)).astype(np.float32)
    plain = images_in_plain_keras(paths.generator_model("dcgan").resolve(), latents, tmp_path_factory.mktemp("load"))
    np.testing.assert_allclose(plain, generator(latents).numpy(), rtol=1e-6, atol=1e-6)
    assert not paths.generated_dir("progan").exists()


def test_a_users_generator_that_cannot_serve_is_refused(project):
    with pytest.raises(GandctError, match="is not a file"):
        fakes.load_generator(project / "missing.keras")
    (project / "broken.keras").write_bytes(b"not a zip archive")
    with pytest.raises(GandctError, match="cannot load"):
        fakes.load_generator(project / "broken.keras")
    gray = users_generator(project / "gray.keras", channels=1)
    with pytest.raises(GandctError, match="1-channel images, not RGB"):
        fakes.load_generator(gray)


@pytest.mark.parametrize(("stage", "argv"), [(progan, []), (dcgan, []), (autogan, ["nearest"])])
def test_stage_without_a_manifest_says_to_run_prepare(stage, argv, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_params(tmp_path, TINY_AUGMENT)
    with pytest.raises(GandctError, match="run the prepare stage first"):
        stage.main(argv)


def test_autogan_stage_writes_one_twin_per_real_with_its_stem_split_group_and_size(project, tmp_path_factory):
    manifest = read_csv(paths.MANIFEST)
    odd = "data/raw/sample/real/odd_size.png"  # a real whose sides are no multiple of the encoder's reduction
    save_png(Path(odd), photo_like(np.random.default_rng(3), 24)[:18, :21])
    digest = hashlib.sha256(Path(odd).read_bytes()).hexdigest()
    manifest.append({"path": odd, "label": "real", "split": "val", "group": "odd", "generator": "", "sha256": digest})
    write_csv(paths.MANIFEST, fakes.COLUMNS, manifest)
    write_params(project, TINY_AUGMENT)
    autogan.main(["transposed"])
    rows = read_csv(paths.generated_listing("autogan_transposed"))
    assert len(rows) == len(manifest) == 21
    for real, twin in zip(manifest, rows, strict=True):
        stem = Path(real["path"]).stem
        assert twin["path"] == f"data/interim/generated/autogan_transposed/{real['split']}/{stem}.png"
        assert (twin["split"], twin["group"], twin["label"], twin["generator"]) == (
            real["split"],
            real["group"],
            "fake",
            "autogan_transposed",
        )
        assert hashlib.sha256(Path(twin["path"]).read_bytes()).hexdigest() == twin["sha256"]
        assert load_rgb(twin["path"]).shape == load_rgb(real["path"]).shape
    # The twins are what the saved auto-encoder makes of their reals, in a Python without gandct.
    model = paths.generator_model("autogan_transposed").resolve()
    real = to_unit_range(load_rgb(manifest[0]["path"])[None])
    plain = images_in_plain_keras(model, real, tmp_path_factory.mktemp("load"))
    np.testing.assert_array_equal(to_uint8(plain)[0], load_rgb(rows[0]["path"]))
    for kind in ("samples", "losses"):
        assert paths.gan_figure("autogan_transposed", kind).stat().st_size > 1000
    losses = paths.gan_losses("autogan_transposed").read_text().splitlines()
    assert losses[0] == "step\timages\tl1" and len(losses) == 3
    timings = json.loads(paths.gan_timings("autogan_transposed").read_text())
    assert {"autogan_transposed training", "write twins"} <= set(timings["seconds"])
    assert not paths.generated_dir("progan").exists()


def test_twins_of_reals_that_share_a_stem_in_one_split_get_their_own_folders():
    reals = [
        {"path": "real_a/0001.jpg", "split": "train", "sha256": "aaaaaaaaaaaa11"},
        {"path": "real_b/0001.png", "split": "train", "sha256": "bbbbbbbbbbbb22"},
        {"path": "real_b/0001.png", "split": "test", "sha256": "cccccccccccc33"},
    ]
    assert [path.as_posix() for path in twin_paths(paths.generated_dir("autogan_bilinear"), reals)] == [
        "data/interim/generated/autogan_bilinear/train/aaaaaaaaaaaa/0001.png",
        "data/interim/generated/autogan_bilinear/train/bbbbbbbbbbbb/0001.png",
        "data/interim/generated/autogan_bilinear/test/0001.png",
    ]
