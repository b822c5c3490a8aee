"""prepare on a real folder of good and bad files: each bad file is listed with its reason, each good
file is in the manifest exactly once, and no group spans two splits."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from helpers import REPO, palette_png, photo_like

from gandct.errors import GandctError
from gandct.fileio import read_csv
from gandct.images import load_rgb
from gandct.params import SplitFractions
from gandct.stages import download, prepare


def write_params(root: Path, **sections: dict) -> None:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for name, values in sections.items():
        params[name].update(values)
    (root / "params.yaml").write_text(yaml.safe_dump(params))


@pytest.fixture
def messy_folder(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A real/ fake/ folder with 12 good images of each class plus one file of every bad kind.

    Returns the folder and a map of bad file name -> the start of the reason prepare must give.
    """
    rng = np.random.default_rng(0)
    folder = tmp_path / "images"
    for label in ("real", "fake"):
        (folder / label).mkdir(parents=True)
        for index in range(12):
            cv2.imwrite(str(folder / label / f"{label}_{index:02d}.png"), photo_like(rng, 48))
    real = folder / "real"
    # Good files in unusual formats: converted, kept.
    cv2.imwrite(str(real / "gray.png"), photo_like(rng, 48)[:, :, 0])
    cv2.imwrite(str(real / "rgba.png"), np.dstack([photo_like(rng, 48), np.full((48, 48), 128, np.uint8)]))
    # 16-bit values off the exact v*257 grid, so the 8-bit value must come from scaling, not truncation
    deep = np.minimum(photo_like(rng, 48).astype(np.int64) * 257 + 77, 65535).astype(np.uint16)
    cv2.imwrite(str(real / "deep16.png"), deep)
    palette = palette_png(photo_like(rng, 48))
    (real / "palette.png").write_bytes(palette)
    cv2.imwrite(str(real / "photo.jpg"), photo_like(rng, 48))
    # Bad files.
    (real / "empty.png").write_bytes(b"")
    (real / "notes.txt").write_text("not an image\n")
    good_bytes = (real / "real_00.png").read_bytes()
    (real / "truncated.png").write_bytes(good_bytes[: len(good_bytes) // 3])
    (real / "random.jpg").write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    cv2.imwrite(str(real / "tiny.png"), photo_like(rng, 16))
    (real / "same_bytes.png").write_bytes(good_bytes)
    pixels = cv2.imread(str(real / "real_01.png"))
    cv2.imwrite(str(real / "same_pixels.png"), pixels, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    (folder / "unsorted").mkdir()
    cv2.imwrite(str(folder / "unsorted" / "who.png"), photo_like(rng, 48))
    bad = {
        "real/empty.png": "empty file",
        "real/notes.txt": "not a decodable image",
        "real/truncated.png": "not a decodable image",
        "real/random.jpg": "not a decodable image",
        "real/tiny.png": "too small: 16x16 < prepare.min_size=32",
        "real/same_bytes.png": "duplicate of",
        "real/same_pixels.png": "duplicate of",
        "unsorted/who.png": "no label",
    }
    return folder, bad


def test_messy_folder(tmp_path, monkeypatch, messy_folder):
    folder, bad = messy_folder
    monkeypatch.chdir(tmp_path)
    write_params(
        tmp_path,
        data={"source": "folder", "folder": str(folder)},
        prepare={"min_size": 32, "min_per_split": 1},
    )
    download.main([])
    prepare.main([])

    rejected = {
        Path(row["path"]).relative_to(folder).as_posix(): row["reason"]
        for row in read_csv(tmp_path / "data/interim/rejected.csv")
    }
    assert set(rejected) == set(bad)
    for name, reason in bad.items():
        assert rejected[name].startswith(reason), (name, rejected[name])
    assert "real_00.png" in rejected["real/same_bytes.png"]
    assert "real_01.png" in rejected["real/same_pixels.png"]

    manifest = read_csv(tmp_path / "data/interim/manifest.csv")
    listed = [Path(row["path"]).relative_to(folder).as_posix() for row in manifest]
    every_file = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert sorted(listed) == sorted(every_file - set(bad))  # each good file exactly once
    assert {row["label"] for row in manifest} == {"real", "fake"}
    split_of_group: dict[str, set[str]] = {}
    for row in manifest:
        split_of_group.setdefault(row["group"], set()).add(row["split"])
        assert row["sha256"] and len(row["sha256"]) == 64
    assert all(len(splits) == 1 for splits in split_of_group.values())
    assert {row["split"] for row in manifest} == {"train", "val", "test"}
    # a folder's file is its own first encoding, read from its bytes
    assert {Path(row["path"]).name: row["format"] for row in manifest}["photo.jpg"] == "jpeg"
    assert {row["format"] for row in manifest if row["path"].endswith(".png")} == {"png"}


def test_odd_formats_convert_to_the_same_rgb(messy_folder):
    folder, _ = messy_folder
    for name in ("gray.png", "rgba.png", "deep16.png", "palette.png", "photo.jpg"):
        rgb = load_rgb(folder / "real" / name)
        assert rgb.dtype == np.uint8 and rgb.shape == (48, 48, 3), name
    gray = load_rgb(folder / "real" / "gray.png")
    assert np.array_equal(gray[:, :, 0], gray[:, :, 2])
    deep = cv2.imread(str(folder / "real" / "deep16.png"), cv2.IMREAD_UNCHANGED)
    assert deep.dtype == np.uint16
    assert np.array_equal(
        load_rgb(folder / "real" / "deep16.png"), cv2.cvtColor(np.round(deep / 257).astype(np.uint8), cv2.COLOR_BGR2RGB)
    )
    bgra = cv2.imread(str(folder / "real" / "rgba.png"), cv2.IMREAD_UNCHANGED)
    original = cv2.cvtColor(bgra[:, :, :3], cv2.COLOR_BGR2RGB)
    assert np.array_equal(load_rgb(folder / "real" / "rgba.png"), original)


def test_too_few_images_is_one_clear_error(tmp_path, monkeypatch, messy_folder):
    folder, _ = messy_folder
    monkeypatch.chdir(tmp_path)
    write_params(tmp_path, data={"source": "folder", "folder": str(folder)}, prepare={"min_per_split": 5})
    download.main([])
    expected = r"too few usable images: (val|test)/(real|fake) has \d+, prepare\.min_per_split is 5"
    with pytest.raises(GandctError, match=expected):
        prepare.main([])
    assert (tmp_path / "data/interim/rejected.csv").is_file()  # what was skipped is still listed
    assert not (tmp_path / "data/interim/manifest.csv").exists()


def test_groups_never_straddle_splits_and_sizes_follow_fractions():
    groups = {f"photo{i:02d}": ("real", "", 10) for i in range(20)} | {
        f"fake{i:03d}": ("fake", "", 1) for i in range(200)
    }
    split = prepare.assign_splits(groups, SplitFractions(train=0.7, val=0.15, test=0.15), seed=3)
    assert set(split) == set(groups)
    for label, total in (("real", 200), ("fake", 200)):
        counts = {
            s: sum(n for g, (lab, _, n) in groups.items() if lab == label and split[g] == s) for s in prepare.SPLITS
        }
        assert abs(counts["train"] - 0.7 * total) <= 10
        assert abs(counts["val"] - 0.15 * total) <= 10
        assert abs(counts["test"] - 0.15 * total) <= 10
    again = prepare.assign_splits(groups, SplitFractions(train=0.7, val=0.15, test=0.15), seed=3)
    other = prepare.assign_splits(groups, SplitFractions(train=0.7, val=0.15, test=0.15), seed=4)
    assert split == again
    assert split != other


def test_every_stratum_is_split_on_its_own_so_a_small_one_reaches_every_split():
    groups = {f"scene{i:02d}": ("real", "scene", 10) for i in range(20)} | {
        f"texture{i}": ("real", "texture", 10) for i in range(3)
    }
    split = prepare.assign_splits(groups, SplitFractions(train=0.7, val=0.15, test=0.15), seed=0)
    assert sorted(split[f"texture{i}"] for i in range(3)) == ["test", "train", "val"]
    scenes = [split[f"scene{i:02d}"] for i in range(20)]
    assert (scenes.count("train"), scenes.count("val"), scenes.count("test")) == (14, 3, 3)
