"""The embedded sample data set: real bundled photos cut into seeded patches, grouped by photo."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest

from gandct.errors import GandctError
from gandct.fileio import read_csv
from gandct.images import load_rgb
from gandct.params import DataParams
from gandct.stages import download


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
    for _, package, inside in download.SAMPLE_PHOTOS:
        photo = load_rgb(resources.files(package) / inside)
        assert min(photo.shape[:2]) >= 191
        assert photo.std() > 10  # a photograph, not a flat test card


def test_sample_is_deterministic_and_grouped_by_photo(tmp_path):
    download.build_sample(sample_params(), seed=7, dest=tmp_path / "a")
    download.build_sample(sample_params(), seed=7, dest=tmp_path / "b")
    download.build_sample(sample_params(), seed=8, dest=tmp_path / "c")
    rows = read_csv(tmp_path / "a" / "files.csv")
    groups = {group for group, _, _ in download.SAMPLE_PHOTOS}
    assert len(rows) == 3 * len(download.SAMPLE_PHOTOS)
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


def test_patches_are_cut_from_their_photo():
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, size=(50, 70, 3), dtype=np.uint8)
    for patch in download.cut_patches(photo, count=20, size=16, rng=rng):
        found = any(
            np.array_equal(patch, candidate[top : top + 16, left : left + 16])
            for candidate in (photo, photo[:, ::-1])
            for top in range(50 - 15)
            for left in range(70 - 15)
        )
        assert found


def test_patch_size_larger_than_most_photos_is_a_clear_error(tmp_path):
    with pytest.raises(GandctError, match=r"data\.patch_size=2000 leaves fewer than 3 usable photos"):
        download.build_sample(sample_params(patch_size=2000), seed=0, dest=tmp_path / "raw")
    assert not (tmp_path / "raw").exists()
