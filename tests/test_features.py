"""The features stage on a small real project: smooth photo-like reals and fakes with a periodic
up-sampling pattern, listed in a manifest and the GAN stages' listings as prepare, progan and dcgan write them."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import REPO, gan_like, photo_like, pipeline_env

from gandct import features
from gandct.dct import DctStats, Preprocessing, fit_images, log_spectra, model_inputs
from gandct.errors import GandctError
from gandct.images import load_rgb, save_png

COLUMNS = ["path", "label", "split", "group", "generator", "sha256"]
SPLIT_COUNTS = {"train": 12, "val": 4, "test": 4}  # reals, and progan fakes, per split
SOURCE_FAKES = 2  # fakes of the source data set (a folder's fake_stylegan/), per split
UNSEEN_FAKES = 4
GENERATORS = ("progan", "dcgan")


def write_listing(path: Path, rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def write_generated(root: Path, rows: list[dict[str, str]]) -> None:
    """The fakes' listings of the progan and dcgan stages, each row in its generator's listing."""
    for generator in GENERATORS:
        write_listing(
            root / f"data/interim/generated/{generator}.csv", [r for r in rows if r["generator"] == generator]
        )


def read_generated(root: Path) -> list[dict[str, str]]:
    return [row for generator in GENERATORS for row in read_rows(root / f"data/interim/generated/{generator}.csv")]


def set_features(root: Path, **values: object) -> None:
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["features"].update(values)
    (root / "params.yaml").write_text(yaml.safe_dump(params))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder (the working directory) with params, images, manifest.csv and the fakes' listings."""
    rng = np.random.default_rng(0)
    (tmp_path / "params.yaml").write_text((REPO / "params.yaml").read_text())
    set_features(tmp_path, workers=2, chunk_size=5)
    manifest, generated = [], []
    for split, count in SPLIT_COUNTS.items():
        for index in range(count):
            real = f"data/raw/sample/real/{split}_{index:02d}.png"
            (tmp_path / real).parent.mkdir(parents=True, exist_ok=True)
            save_png(tmp_path / real, photo_like(rng, 64 + 4 * (index % 3))[:, : 64 + 2 * (index % 4)])
            manifest.append({"path": real, "label": "real", "split": split, "group": real, "generator": ""})
            fake = f"data/interim/generated/progan/{split}/{index:02d}.png"
            (tmp_path / fake).parent.mkdir(parents=True, exist_ok=True)
            save_png(tmp_path / fake, gan_like(rng, 64))
            generated.append({"path": fake, "label": "fake", "split": split, "group": fake, "generator": "progan"})
        for index in range(SOURCE_FAKES):
            fake = f"data/raw/sample/fake_stylegan/{split}_{index:02d}.png"
            (tmp_path / fake).parent.mkdir(parents=True, exist_ok=True)
            save_png(tmp_path / fake, gan_like(rng, 72))
            manifest.append({"path": fake, "label": "fake", "split": split, "group": fake, "generator": "stylegan"})
    for index in range(UNSEEN_FAKES):
        fake = f"data/interim/generated/dcgan/{index:02d}.png"
        (tmp_path / fake).parent.mkdir(parents=True, exist_ok=True)
        save_png(tmp_path / fake, gan_like(rng, 64))
        generated.append({"path": fake, "label": "fake", "split": "test_unseen", "group": fake, "generator": "dcgan"})
    write_listing(tmp_path / "data/interim/manifest.csv", [{**row, "sha256": ""} for row in manifest])
    write_generated(tmp_path, [{**row, "sha256": ""} for row in generated])
    monkeypatch.chdir(tmp_path)
    return tmp_path


def processed(name: str) -> Path:
    return Path("data/processed") / name


def test_stage_writes_every_split_row_for_row_with_labels_and_ids(project):
    features.main([])
    manifest = read_rows(project / "data/interim/manifest.csv")
    generated = read_generated(project)
    expected = {
        split: [row for row in manifest if row["split"] == split] + [row for row in generated if row["split"] == split]
        for split in ("train", "val", "test")
    }
    expected["test_unseen"] = [row for row in manifest if row["split"] == "test" and row["label"] == "real"] + [
        row for row in generated if row["split"] == "test_unseen"
    ]
    for split, rows in expected.items():
        dct = np.load(processed(f"{split}_dct.npy"), mmap_mode="r")
        pixels = np.load(processed(f"{split}_pixels.npy"), mmap_mode="r")
        labels = np.load(processed(f"{split}_y.npy"), mmap_mode="r")
        ids = read_rows(processed(f"{split}_ids.csv"))
        assert dct.shape == pixels.shape == (len(rows), 64, 64, 1)
        assert dct.dtype == pixels.dtype == labels.dtype == np.float32
        assert [row["path"] for row in ids] == [row["path"] for row in rows]
        assert [row["generator"] for row in ids] == [row["generator"] for row in rows]
        assert labels.tolist() == [1.0 if row["label"] == "fake" else 0.0 for row in rows]
        assert [int(row["label"]) for row in ids] == labels.astype(int).tolist()
        assert pixels.min() >= -1.0 and pixels.max() <= 1.0
        assert np.isfinite(dct).all()
    assert {row["generator"] for row in read_rows(processed("test_ids.csv"))} == {"", "progan", "stylegan"}
    assert {row["generator"] for row in read_rows(processed("test_unseen_ids.csv"))} == {"", "dcgan"}
    train = np.load(processed("train_dct.npy"))
    np.testing.assert_allclose(train.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(train.std(axis=0), 1, atol=1e-3)
    assert [p.name for p in (project / "data").iterdir() if p.name.startswith(".")] == []  # no staging left


@pytest.mark.parametrize(
    "settings",
    [{}, {"color": "rgb", "crop": "resize", "image_size": 48, "jpeg_quality": 80}],
    ids=["gray-center", "rgb-resize-jpeg"],
)
def test_stage_arrays_are_exactly_what_the_preprocessing_module_computes(project, settings):
    set_features(project, **settings)
    features.main([])
    stats = DctStats.load(processed("dct_stats.npz"))
    for split in ("train", "test_unseen"):
        rgbs = [load_rgb(row["path"]) for row in read_rows(processed(f"{split}_ids.csv"))]
        expected_dct, expected_pixels = model_inputs(rgbs, stats)
        np.testing.assert_array_equal(np.load(processed(f"{split}_dct.npy")), expected_dct)
        np.testing.assert_array_equal(np.load(processed(f"{split}_pixels.npy")), expected_pixels)


def test_statistics_are_the_train_split_log_spectra_mean_and_std(project):
    features.main([])
    stats = DctStats.load(processed("dct_stats.npz"))
    preprocessing = Preprocessing(64, "center", "gray", None, 0.001)
    assert stats.preprocessing == preprocessing
    rgbs = [load_rgb(row["path"]) for row in read_rows(processed("train_ids.csv"))]
    spectra = log_spectra(fit_images(rgbs, preprocessing), preprocessing.eps).astype(np.float64)
    assert stats.count == len(rgbs) == 2 * SPLIT_COUNTS["train"] + SOURCE_FAKES
    np.testing.assert_allclose(stats.mean, spectra.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(stats.std, spectra.std(axis=0), rtol=1e-5)


def test_train_statistics_never_see_val_or_test_images(project):
    features.main([])
    stats_bytes = processed("dct_stats.npz").read_bytes()
    test_dct = np.load(processed("test_dct.npy"))
    rng = np.random.default_rng(99)
    for row in read_rows(project / "data/interim/manifest.csv"):
        if row["split"] in ("val", "test"):
            save_png(Path(row["path"]), gan_like(rng, 64))
    for row in read_generated(project):
        if row["split"] != "train":
            save_png(Path(row["path"]), photo_like(rng, 64))
    features.main([])
    assert processed("dct_stats.npz").read_bytes() == stats_bytes
    assert not np.array_equal(np.load(processed("test_dct.npy")), test_dct)
    # The control: one changed train image does change them.
    train_image = next(r for r in read_rows(project / "data/interim/manifest.csv") if r["split"] == "train")
    save_png(Path(train_image["path"]), gan_like(rng, 64))
    features.main([])
    assert processed("dct_stats.npz").read_bytes() != stats_bytes


def test_same_arrays_with_one_worker_or_several_and_any_chunk_size(project):
    set_features(project, workers=1, chunk_size=1000)
    features.main([])
    names = ("train_dct.npy", "val_dct.npy", "val_pixels.npy", "test_unseen_dct.npy")
    single = {name: np.load(processed(name)) for name in names}
    single_stats = DctStats.load(processed("dct_stats.npz"))
    set_features(project, workers=2, chunk_size=3)
    features.main([])
    np.testing.assert_array_equal(np.load(processed("val_pixels.npy")), single["val_pixels.npy"])
    for name in ("train_dct.npy", "val_dct.npy", "test_unseen_dct.npy"):  # merging by chunk may move the last bit
        np.testing.assert_allclose(np.load(processed(name)), single[name], rtol=0, atol=1e-5)
    stats = DctStats.load(processed("dct_stats.npz"))
    np.testing.assert_allclose(stats.mean, single_stats.mean, rtol=1e-6)
    np.testing.assert_allclose(stats.std, single_stats.std, rtol=1e-6)
    first = {name: processed(name).read_bytes() for name in (*names, "dct_stats.npz")}
    features.main([])  # the same settings give the same bytes
    assert {name: processed(name).read_bytes() for name in first} == first


def test_an_undecodable_image_names_the_file_and_keeps_the_previous_output(project):
    features.main([])
    before = processed("val_dct.npy").read_bytes()
    broken = next(r for r in read_rows(project / "data/interim/manifest.csv") if r["split"] == "val")["path"]
    Path(broken).write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    message = rf"cannot use {re.escape(broken)} \(listed in data/interim/manifest\.csv\).*prepare"
    with pytest.raises(GandctError, match=message):
        features.main([])
    assert processed("val_dct.npy").read_bytes() == before
    assert [p.name for p in (project / "data").iterdir() if p.name.startswith(".")] == []


def test_missing_generated_images_or_listing_are_clear_errors(project):
    gone = read_generated(project)[-1]["path"]
    Path(gone).unlink()
    message = rf"1 image\(s\) listed in data/interim/generated/dcgan\.csv are missing \({re.escape(gone)}\)"
    with pytest.raises(GandctError, match=message):
        features.main([])
    assert not processed("").exists()
    Path("data/interim/generated/dcgan.csv").unlink()
    with pytest.raises(GandctError, match=r"dcgan\.csv not found; run the dcgan stage first"):
        features.main([])


def test_an_image_too_small_to_center_crop_names_the_file_until_crop_is_resize(project):
    rows = read_rows(project / "data/interim/manifest.csv")
    small = "data/raw/sample/real/small.png"
    save_png(Path(small), photo_like(np.random.default_rng(5), 40))
    rows.append({**rows[0], "path": small})
    write_listing(project / "data/interim/manifest.csv", rows)
    message = rf"cannot use {re.escape(small)}.*40x40 is smaller than features\.image_size=64"
    with pytest.raises(GandctError, match=message):
        features.main([])
    set_features(project, crop="resize")
    features.main([])
    assert read_rows(processed("train_ids.csv"))[SPLIT_COUNTS["train"] + SOURCE_FAKES]["path"] == small


def test_a_train_split_without_fakes_is_an_error(project):
    rows = read_generated(project)
    write_generated(project, [row for row in rows if row["split"] != "train"])
    manifest = read_rows(project / "data/interim/manifest.csv")
    no_fakes = [row for row in manifest if not (row["split"] == "train" and row["label"] == "fake")]
    write_listing(project / "data/interim/manifest.csv", no_fakes)
    with pytest.raises(GandctError, match="the train split has only real images"):
        features.main([])


def test_a_label_or_split_the_pipeline_does_not_know_is_an_error(project):
    rows = read_generated(project)
    write_generated(project, [{**rows[0], "split": "holdout"}, *rows[1:]])
    with pytest.raises(GandctError, match="has split 'holdout'"):
        features.main([])
    write_generated(project, [{**rows[0], "label": "maybe"}, *rows[1:]])
    with pytest.raises(GandctError, match="has label 'maybe', expected real or fake"):
        features.main([])


PROBE = """
import resource, sys
from gandct.features import main
main([])
# Workers are children of the fork server: reap it (a private hook, the public API has none) so that
# RUSAGE_CHILDREN counts the server and the workers it reaped.
import multiprocessing.forkserver
multiprocessing.forkserver._forkserver._stop()
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, heavy)
"""


def run_probe(root: Path) -> tuple[int, int, str]:
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=root, env=pipeline_env(), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    main_kib, workers_kib, heavy = result.stdout.strip().split(" ", 2)
    return int(main_kib), int(workers_kib), heavy


def test_peak_memory_does_not_grow_with_the_number_of_images_and_no_tensorflow(project):
    """About 500 and 2000 rows of 64x64 RGB: the larger run would hold 140 MiB more if rows were kept."""
    set_features(project, color="rgb", workers=2, chunk_size=16)
    manifest = read_rows(project / "data/interim/manifest.csv")
    generated = read_generated(project)
    peaks = []
    for repeat in (6, 24):
        write_listing(project / "data/interim/manifest.csv", manifest * repeat)
        write_generated(project, generated * repeat)
        main_kib, workers_kib, heavy = run_probe(project)
        assert heavy == "[]"  # the stage never imports TensorFlow or Keras
        peaks.append((main_kib, workers_kib))
    rows = len(np.load(processed("train_y.npy"))) + len(np.load(processed("val_y.npy")))
    assert rows == 24 * (2 * (SPLIT_COUNTS["train"] + SPLIT_COUNTS["val"]) + 2 * SOURCE_FAKES)
    (small_main, small_workers), (large_main, large_workers) = peaks
    assert small_workers > 20 * 1024  # the workers were measured (each holds NumPy and OpenCV)
    assert large_main - small_main < 10 * 1024
    assert large_workers - small_workers < 10 * 1024


@pytest.mark.slow
def test_dvc_repro_features_after_prepare_then_nothing_changed(project_copy):
    project_copy.set_params(
        {
            "data": {"patch_size": 32, "patches_per_photo": 4},
            "prepare": {"min_per_split": 2},
            "features": {"image_size": 32},
        }
    )
    project_copy.run("dvc", "repro", "prepare")
    root = project_copy.root
    rng = np.random.default_rng(0)
    rows = []
    for index, split in enumerate(["train"] * 6 + ["val", "val", "test", "test", "test_unseen", "test_unseen"]):
        generator = "dcgan" if split == "test_unseen" else "progan"
        path = f"data/interim/generated/{generator}/{split}/{index:02d}.png"
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        save_png(root / path, gan_like(rng, 32))
        rows.append({"path": path, "label": "fake", "split": split, "group": "", "generator": generator, "sha256": ""})
    write_generated(root, rows)

    # --single-item: the generated fakes above stand in for the GAN stages, which must not run here.
    project_copy.run("dvc", "repro", "--single-item", "features")
    manifest = read_rows(root / "data/interim/manifest.csv")
    train_rows = sum(row["split"] == "train" for row in manifest) + 6
    assert np.load(root / "data/processed/train_dct.npy", mmap_mode="r").shape == (train_rows, 32, 32, 1)
    assert DctStats.load(root / "data/processed/dct_stats.npz").count == train_rows
    again = project_copy.run("dvc", "repro", "--single-item", "features")
    assert "Running stage" not in again.stdout
