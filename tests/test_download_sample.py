"""The embedded sample data set: real bundled photos cut into seeded patches, grouped by photo."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest
from helpers import REPO

from gandct import photos
from gandct.errors import GandctError
from gandct.fileio import read_csv
from gandct.images import load_rgb
from gandct.params import DataParams, load_params
from gandct.stages import download, prepare


def sample_params(**overrides) -> DataParams:
    values = {
        "source": "sample",
        "patch_size": 32,
        "patches_per_photo": 3,
        "kaggle_dataset": "owner/slug",
        "folder": "data/external",
    }
    return DataParams(**{**values, **overrides})


def test_every_bundled_photo_is_installed_and_a_real_photo():
    assert len(photos.SAMPLE_PHOTOS) == 45 and len({photo.group for photo in photos.SAMPLE_PHOTOS}) == 44
    for photo in photos.SAMPLE_PHOTOS:
        pixels = photos.load_photo(photo.origin)
        assert min(pixels.shape[:2]) >= 191
        assert pixels.std() > 10  # a photograph, not a flat test card
        assert photo.stratum in ("scene", "texture", "science")
    strata = {photo.group: photo.stratum for photo in photos.SAMPLE_PHOTOS}
    assert sum(stratum == "scene" for stratum in strata.values()) == 34


def test_a_photo_is_read_from_its_wheel_without_importing_the_package():
    # foolbox's own code imports eagerpy, which is not installed: reading the file must not import it
    imagenet = next(photo for photo in photos.SAMPLE_PHOTOS if photo.origin.startswith("foolbox/"))
    assert photos.load_photo(imagenet.origin).shape == (512, 512, 3)
    assert photos.origin_format(imagenet.origin) == "jpeg"
    assert photos.origin_format("sporco/data/kodim23.png") == "png"
    with pytest.raises(GandctError, match="nowhere_package is not installed: run `make requirements`"):
        photos.load_photo("nowhere_package/data/photo.png")


def test_the_default_split_holds_at_least_seven_photos_of_every_stratum_mix_in_val_and_test(tmp_path):
    groups: dict[str, tuple[str, str, int]] = {}
    for photo in photos.SAMPLE_PHOTOS:
        count = groups.get(photo.group, ("", "", 0))[2]
        groups[photo.group] = ("real", photo.stratum, count + 64)
    fractions = load_params(REPO / "params.yaml").prepare.split
    for seed in (42, 7):
        split = prepare.assign_splits(groups, fractions, seed=seed)
        for name in ("val", "test"):
            held = [group for group, found in split.items() if found == name]
            assert len(held) >= 7
            assert {groups[group][1] for group in held} == {"scene", "texture", "science"}


def test_a_bundled_photo_loads_without_its_colour_profile_and_silently(capfd):
    inside = "data/page.png"  # its iCCP chunk is malformed: libpng warns on every read
    data = (resources.files("skimage") / inside).read_bytes()
    assert b"iCCP" in data and b"iCCP" not in photos.without_colour_profile(data)
    capfd.readouterr()
    photo = photos.load_photo(f"skimage/{inside}")
    assert capfd.readouterr().err == ""
    with_profile = load_rgb(resources.files("skimage") / inside)
    np.testing.assert_array_equal(photo, with_profile)  # the decoder ignores the profile: same pixels
    assert "iCCP" in capfd.readouterr().err  # the warning it keeps off the terminal


def test_sample_is_deterministic_and_grouped_by_photo(tmp_path):
    download.build_sample(sample_params(), seed=7, dest=tmp_path / "a")
    download.build_sample(sample_params(), seed=7, dest=tmp_path / "b")
    download.build_sample(sample_params(), seed=8, dest=tmp_path / "c")
    rows = read_csv(tmp_path / "a" / "files.csv")
    groups = {photo.group for photo in photos.SAMPLE_PHOTOS}
    assert len(rows) == 3 * len(photos.SAMPLE_PHOTOS)
    assert {row["group"] for row in rows} == groups
    assert {row["label"] for row in rows} == {"real"}
    same = different = 0
    for row in rows:
        patch = load_rgb(tmp_path / "a" / row["path"])
        assert patch.shape == (32, 32, 3)
        same += np.array_equal(patch, load_rgb(tmp_path / "b" / row["path"]))
        different += not np.array_equal(patch, load_rgb(tmp_path / "c" / row["path"]))
    assert same == len(rows)
    assert different > len(rows) // 2


def test_patches_are_cut_from_their_photo_where_they_say():
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, size=(50, 70, 3), dtype=np.uint8)
    patches = photos.random_patches(photo.shape, count=20, size=16, rng=rng)
    assert {patch.flipped for patch in patches} == {False, True}
    for patch in patches:
        assert 0 <= patch.top <= 50 - 16 and 0 <= patch.left <= 70 - 16
        window = photo[patch.top : patch.top + 16, patch.left : patch.left + 16]
        assert np.array_equal(patch.cut(photo), window[:, ::-1] if patch.flipped else window)


def test_files_csv_records_where_each_patch_lies_in_its_photo(tmp_path):
    download.build_sample(sample_params(patch_size=32, patches_per_photo=3), seed=0, dest=tmp_path / "raw")
    for row in read_csv(tmp_path / "raw" / "files.csv")[::7]:
        patch = photos.Patch(int(row["top"]), int(row["left"]), 32, row["flipped"] == "1")
        assert np.array_equal(load_rgb(tmp_path / "raw" / row["path"]), patch.cut(photos.load_photo(row["origin"])))
    rows = read_csv(tmp_path / "raw" / "files.csv")
    stratum = {photo.origin: photo.stratum for photo in photos.SAMPLE_PHOTOS}
    assert all(row["stratum"] == stratum[row["origin"]] for row in rows)
    assert {row["format"] for row in rows if row["origin"].endswith(".jpg")} == {"jpeg"}  # the photo's, not the patch's
    assert {row["format"] for row in rows if row["origin"].endswith(".png")} == {"png"}


def test_patch_size_larger_than_most_photos_is_a_clear_error(tmp_path):
    with pytest.raises(GandctError, match=r"data\.patch_size=2000 leaves fewer than 3 usable photos"):
        download.build_sample(sample_params(patch_size=2000), seed=0, dest=tmp_path / "raw")
    assert not (tmp_path / "raw").exists()
