"""The recipe search for `custom`: its input views, its per-epoch train images, a whole tiny run on val data and
the table it prints."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from helpers import REPO, deep_update, gan_like, photo_like

from gandct import paths
from gandct.commands import recipes
from gandct.errors import GandctError
from gandct.fileio import write_csv
from gandct.images import as_gray, is_gray, save_png
from gandct.params import parse_params

SIZE = 16
CUSTOM = {"epochs": 10, "batch_size": 16, "width": 4, "learning_rate": 0.005, "patience": 10}  # enough for 48 images


def test_the_residual_of_a_nearest_up_sampled_image_is_empty_and_of_a_photo_is_not():
    small = np.random.default_rng(0).integers(0, 256, (2, SIZE // 2, SIZE // 2, 3), dtype=np.uint8)
    up_sampled = np.repeat(np.repeat(small, 2, axis=1), 2, axis=2)
    np.testing.assert_allclose(recipes.residual_spectra(up_sampled, 1e-3), np.log(1e-3), rtol=1e-6)
    photo = photo_like(np.random.default_rng(1), SIZE)[None]
    assert (recipes.residual_spectra(photo, 1e-3) > np.log(1e-3) + 1).mean() > 0.5


def test_the_whitened_spectrum_has_no_radial_trend_left():
    images = np.stack([photo_like(np.random.default_rng(seed), SIZE) for seed in range(3)])
    whitened = recipes.whitened_spectra(images, 1e-3)
    rows, columns = np.indices((SIZE, SIZE))
    radius = np.log1p(np.hypot(rows, columns))
    for channel in np.moveaxis(whitened, -1, 1).reshape(-1, SIZE, SIZE):
        assert abs(channel.mean()) < 1e-4
        assert abs(np.sum(channel * radius)) < 1e-2 * np.sum(np.abs(channel))
    plain = recipes.log_spectra(images, 1e-3)
    assert np.std(whitened) < np.std(plain)  # the decay was most of the spread


def test_a_photo_and_its_twin_get_one_perturbation_and_gray_share_turns_images_gray():
    photo = photo_like(np.random.default_rng(2), SIZE)
    train = recipes.Images(np.stack([photo, photo, photo]), np.array([0, 1, 0], np.float32), ["a", "a", "b"])
    each = recipes.Recipe("rgb", perturb="each")
    perturbed = [recipes.epoch_images(each, train, seed=0, epoch=epoch) for epoch in range(6)]
    for epoch_pixels in perturbed:  # the photo and its twin (same stem): the same draw
        np.testing.assert_array_equal(epoch_pixels[0], epoch_pixels[1])
    assert any(not np.array_equal(pixels[0], pixels[2]) for pixels in perturbed)  # another photo: its own draws
    np.testing.assert_array_equal(perturbed[3], recipes.epoch_images(each, train, seed=0, epoch=3))  # seeded
    independent = recipes.Recipe("rgb", perturb="each_downscale", synced=False)
    apart = [recipes.epoch_images(independent, train, seed=0, epoch=epoch) for epoch in range(6)]
    assert any(not np.array_equal(pixels[0], pixels[1]) for pixels in apart)  # not synced: a draw each
    grayed = recipes.epoch_images(recipes.Recipe("rgb", gray_share=1.0), train, seed=0, epoch=0)
    assert all(is_gray(image) for image in grayed)
    np.testing.assert_array_equal(grayed[0], as_gray(photo))
    untouched = recipes.epoch_images(recipes.Recipe("rgb"), train, seed=0, epoch=0)
    np.testing.assert_array_equal(untouched, train.pixels)


@pytest.fixture
def tiny_project(tmp_path, monkeypatch):
    """Photo-like reals in every split and checkered fakes of the ProGAN, the DCGAN and four 'twin families'."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    manifest = []
    for split, count in (("train", 48), ("val", 24)):
        for index in range(count):
            path = f"data/raw/real/{split}_{index}.png"
            (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
            save_png(tmp_path / path, photo_like(rng, SIZE))
            manifest.append({"path": path, "label": "real", "split": split, "group": f"g{index % 4}"})
    write_csv(paths.MANIFEST, ["path", "label", "split", "group"], manifest)
    for generator in ("progan", recipes.ALWAYS_HELD_OUT, *recipes.TWIN_GENERATORS):
        listing = []
        for row in manifest:
            path = f"data/interim/generated/{generator}/{row['path'].split('/')[-1]}"
            (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
            save_png(tmp_path / path, gan_like(rng, SIZE))
            listing.append({"path": path, "label": "fake", "split": row["split"], "group": row["group"]})
        write_csv(paths.generated_listing(generator), ["path", "label", "split", "group"], listing)
    params = deep_update(
        yaml.safe_load((REPO / "params.yaml").read_text()),
        {
            "features": {"image_size": SIZE},
            "train": {"custom": {"epochs": 10, "batch_size": 16, "width": 4, "learning_rate": 0.005, "patience": 10}},
        },
    )
    return parse_params(params)


def test_a_recipe_runs_every_fold_on_val_data_and_the_table_ranks_it(tiny_project):
    run = recipes.run_recipe("rgb", 0, tiny_project)
    assert [fold["held"] for fold in run["folds"]] == [[family, "dcgan"] for family in recipes.TWIN_GENERATORS]
    assert run["roc_auc"] > 0.75  # the checkerboard, learnt on the ProGAN's fakes, is found in every held-out set
    assert run["gray_roc_auc"] is not None and 0 <= run["worst_flagged"] <= 1
    assert set(run["folds"][0]["reals_flagged"]) == {"clean", "jpeg_90", "jpeg_75", "blur_1.0", "downscale_2"}
    json.dumps(run)  # written as JSON

    other = {**run, "recipe": "gray", "roc_auc": 0.5, "gray_roc_auc": None}
    rows = recipes.summarise([other, run, {**run, "seed": 1}])
    assert [row["recipe"] for row in rows] == ["rgb", "gray"] and rows[0]["objective_std"] == 0.0
    assert rows[0]["objective"] == round((run["roc_auc"] + run["gray_roc_auc"]) / 2, 4)
    lines = recipes.table(rows).splitlines()
    assert lines[2].startswith("| rgb | 2 |") and "± 0.000" in lines[2]
    assert lines[3].startswith("| gray | 1 | 0.500 | 0.500 | 0.500 |")


def test_an_unknown_recipe_is_one_clear_error(monkeypatch):
    monkeypatch.chdir(REPO)
    with pytest.raises(GandctError, match=r"unknown recipe.*nope"):
        recipes.main(["nope"])
