"""The features stage on a small real project: smooth photo-like reals and fakes with a periodic
up-sampling pattern, listed in a manifest and the GAN stages' listings as prepare, progan, dcgan and the
auto-encoder families (a twin of every real, with its stem) write them."""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers import REPO, gan_like, photo_like, pipeline_env

from gandct import paths
from gandct.dct import DctStats, Preprocessing, frame_images, log_spectra
from gandct.errors import GandctError
from gandct.fileio import read_csv
from gandct.images import load_rgb, save_png
from gandct.params import load_params
from gandct.stages import features

COLUMNS = ["path", "label", "split", "group", "generator", "sha256"]
SPLIT_COUNTS = {"train": 12, "val": 4, "test": 4}  # reals, and progan and dcgan fakes, per split
SOURCE_FAKES = 2  # fakes of the source data set (a folder's fake_stylegan/), per split
PROGAN_LISTING, DCGAN_LISTING = "data/interim/generated/progan.csv", "data/interim/generated/dcgan.csv"
TWIN_FAMILIES = ("autogan_nearest", "autogan_bilinear")  # two of the zoo: each its own listing and test set


def write_listing(path: Path, rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def set_features(root: Path, section: str = "features", **values: object) -> None:
    params = yaml.safe_load((root / "params.yaml").read_text())
    params[section].update(values)
    (root / "params.yaml").write_text(yaml.safe_dump(params))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder (the working directory) with params, images, manifest.csv and the GAN listings."""
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
            for gan in ("progan", "dcgan"):
                fake = f"data/interim/generated/{gan}/{split}/{index:02d}.png"
                (tmp_path / fake).parent.mkdir(parents=True, exist_ok=True)
                save_png(tmp_path / fake, gan_like(rng, 64))
                generated.append({"path": fake, "label": "fake", "split": split, "group": fake, "generator": gan})
            for family in TWIN_FAMILIES:
                twin = f"data/interim/generated/{family}/{split}/{split}_{index:02d}.png"
                (tmp_path / twin).parent.mkdir(parents=True, exist_ok=True)
                save_png(tmp_path / twin, gan_like(rng, 64))
                generated.append({"path": twin, "label": "fake", "split": split, "group": real, "generator": family})
        for index in range(SOURCE_FAKES):
            fake = f"data/raw/sample/fake_stylegan/{split}_{index:02d}.png"
            (tmp_path / fake).parent.mkdir(parents=True, exist_ok=True)
            save_png(tmp_path / fake, gan_like(rng, 72))
            manifest.append({"path": fake, "label": "fake", "split": split, "group": fake, "generator": "stylegan"})
    write_listing(tmp_path / "data/interim/manifest.csv", [{**row, "sha256": ""} for row in manifest])
    for generator in ("progan", "dcgan", *TWIN_FAMILIES):
        rows = [{**row, "sha256": ""} for row in generated if row["generator"] == generator]
        write_listing(tmp_path / paths.generated_listing(generator), rows)
    # The families this project leaves out: empty listings, as a stage that wrote no twin would leave them.
    for generator in set(paths.AUTOGAN_GENERATORS) - set(TWIN_FAMILIES):
        write_listing(tmp_path / paths.generated_listing(generator), [])
    monkeypatch.chdir(tmp_path)
    return tmp_path


def processed(split: str, name: str) -> Path:
    return Path("data/processed") / split / name


FIXTURE_SPLITS = ("train", "val", "test", "test_dcgan", *(f"test_{family}" for family in TWIN_FAMILIES))


def run_all_splits() -> None:
    for split in FIXTURE_SPLITS:
        features.main([split])


def all_generated(root: Path) -> list[dict[str, str]]:
    return [row for gan in ("progan", "dcgan", *TWIN_FAMILIES) for row in read_csv(root / paths.generated_listing(gan))]


def test_stage_writes_every_split_row_for_row_with_labels_and_ids(project):
    run_all_splits()
    manifest = read_csv(project / "data/interim/manifest.csv")
    generated = all_generated(project)
    progan = read_csv(project / PROGAN_LISTING)  # train.fakes: [progan]
    expected = {
        split: [row for row in manifest if row["split"] == split] + [row for row in progan if row["split"] == split]
        for split in ("train", "val", "test")
    }
    test_reals = [row for row in manifest if row["split"] == "test" and row["label"] == "real"]
    for gan in ("dcgan", *TWIN_FAMILIES):  # the test reals, then that generator's test fakes; no source fakes
        expected[f"test_{gan}"] = test_reals + [
            row for row in generated if row["split"] == "test" and row["generator"] == gan
        ]
    shape = Preprocessing.from_params(load_params().features).shape  # params.yaml's: 64x64, colour
    for split, rows in expected.items():
        dct = np.load(processed(split, "dct.npy"), mmap_mode="r")
        pixels = np.load(processed(split, "pixels.npy"), mmap_mode="r")
        labels = np.load(processed(split, "y.npy"), mmap_mode="r")
        ids = read_csv(processed(split, "ids.csv"))
        assert dct.shape == pixels.shape == (len(rows), *shape)
        assert dct.dtype == labels.dtype == np.float32
        assert pixels.dtype == np.uint8  # the framed images, scaled to [-1, 1] only when a model reads them
        assert [row["path"] for row in ids] == [row["path"] for row in rows]
        assert [row["generator"] for row in ids] == [row["generator"] for row in rows]
        assert labels.tolist() == [1.0 if row["label"] == "fake" else 0.0 for row in rows]
        assert [int(row["label"]) for row in ids] == labels.astype(int).tolist()
        assert np.isfinite(dct).all()
    assert {row["generator"] for row in read_csv(processed("test", "ids.csv"))} == {"", "progan", "stylegan"}
    assert {row["generator"] for row in read_csv(processed("test_dcgan", "ids.csv"))} == {"", "dcgan"}
    for family in TWIN_FAMILIES:
        paired = read_csv(processed(f"test_{family}", "ids.csv"))
        assert {row["generator"] for row in paired} == {"", family}
        assert [Path(row["path"]).stem for row in paired if row["label"] == "1"] == [
            Path(row["path"]).stem for row in paired if row["label"] == "0"
        ]  # every test real, then its twin in the same order
    assert sorted(p.name for p in Path("data/processed").rglob("dct_stats.npz")) == ["dct_stats.npz"]
    # The cache holds log spectra; z-scored with the train statistics the train rows have mean 0 and std 1.
    train = DctStats.load(paths.DCT_STATS).normalize(np.load(processed("train", "dct.npy")))
    np.testing.assert_allclose(train.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(train.std(axis=0), 1, atol=1e-3)
    for folder in (project / "data", project / "data/processed"):  # no staging left
        assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(
    "settings",
    [{"color": "gray"}, {"color": "rgb", "crop": "resize", "image_size": 48, "jpeg_quality": 80}],
    ids=["gray-center", "rgb-resize-jpeg"],
)
def test_stage_arrays_are_exactly_what_the_preprocessing_module_computes(project, settings):
    set_features(project, **settings)
    preprocessing = Preprocessing.from_params(load_params().features)
    for split in ("train", "test_dcgan"):
        features.main([split])
        rgbs = [load_rgb(row["path"]) for row in read_csv(processed(split, "ids.csv"))]
        framed = frame_images(rgbs, preprocessing)
        np.testing.assert_array_equal(np.load(processed(split, "pixels.npy")), framed)
        np.testing.assert_array_equal(np.load(processed(split, "dct.npy")), log_spectra(framed, preprocessing.eps))


def test_statistics_are_the_train_split_log_spectra_mean_and_std(project):
    features.main(["train"])
    stats = DctStats.load(paths.DCT_STATS)
    preprocessing = Preprocessing(64, "center", load_params().features.color, None, 0.001)
    assert stats.preprocessing == preprocessing
    rgbs = [load_rgb(row["path"]) for row in read_csv(processed("train", "ids.csv"))]
    spectra = log_spectra(frame_images(rgbs, preprocessing), preprocessing.eps).astype(np.float64)
    assert stats.count == len(rgbs) == 2 * SPLIT_COUNTS["train"] + SOURCE_FAKES
    np.testing.assert_allclose(stats.mean, spectra.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(stats.std, spectra.std(axis=0), rtol=1e-5)


def test_train_statistics_never_see_val_or_test_images(project):
    run_all_splits()
    stats_bytes = paths.DCT_STATS.read_bytes()
    test_dct = np.load(processed("test", "dct.npy"))
    rng = np.random.default_rng(99)
    for row in read_csv(project / "data/interim/manifest.csv"):
        if row["split"] in ("val", "test"):
            save_png(Path(row["path"]), gan_like(rng, 64))
    for row in all_generated(project):
        if row["split"] != "train":
            save_png(Path(row["path"]), photo_like(rng, 64))
    run_all_splits()
    assert paths.DCT_STATS.read_bytes() == stats_bytes
    assert not np.array_equal(np.load(processed("test", "dct.npy")), test_dct)
    # The control: one changed train image does change them.
    train_image = next(r for r in read_csv(project / "data/interim/manifest.csv") if r["split"] == "train")
    save_png(Path(train_image["path"]), gan_like(rng, 64))
    run_all_splits()
    assert paths.DCT_STATS.read_bytes() != stats_bytes


def test_same_arrays_with_one_worker_or_several_and_any_chunk_size(project):
    set_features(project, workers=1, chunk_size=1000)
    run_all_splits()
    files = [processed(split, name) for split in FIXTURE_SPLITS for name in paths.FEATURE_FILES]
    single = {file: file.read_bytes() for file in files}
    single_stats = DctStats.load(paths.DCT_STATS)
    set_features(project, workers=2, chunk_size=3)
    run_all_splits()
    # Every cached array is computed image by image: the same bytes whatever the workers and chunks.
    assert {file: file.read_bytes() for file in files} == single
    stats = DctStats.load(paths.DCT_STATS)  # merging moments by chunk may move the last bit
    np.testing.assert_allclose(stats.mean, single_stats.mean, rtol=1e-6)
    np.testing.assert_allclose(stats.std, single_stats.std, rtol=1e-6)
    first = {file: file.read_bytes() for file in (*files, paths.DCT_STATS)}
    run_all_splits()  # the same settings give the same bytes
    assert {file: file.read_bytes() for file in first} == first


def test_an_undecodable_image_names_the_file_and_keeps_the_previous_output(project):
    features.main(["val"])
    before = processed("val", "dct.npy").read_bytes()
    broken = next(r for r in read_csv(project / "data/interim/manifest.csv") if r["split"] == "val")["path"]
    Path(broken).write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    message = rf"cannot use {re.escape(broken)} \(listed in data/interim/manifest\.csv\).*prepare"
    with pytest.raises(GandctError, match=message):
        features.main(["val"])
    assert processed("val", "dct.npy").read_bytes() == before
    assert [p.name for p in (project / "data/processed").iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(
    "fakes",
    [
        ["autogan_nearest"],
        ["progan", "autogan_bilinear"],
        list(TWIN_FAMILIES),
        ["progan", "dcgan", *TWIN_FAMILIES],  # a leave-one-generator-out source: all but one
    ],
)
def test_train_fakes_share_the_fakes_of_train_and_val_evenly_and_the_test_split_keeps_the_progans(project, fakes):
    set_features(project, "train", fakes=fakes)
    for split in ("train", "val", "test"):
        features.main([split])
    for split in ("train", "val"):
        ids = read_csv(processed(split, "ids.csv"))
        reals = SPLIT_COUNTS[split]
        # As many fakes as one generator gives, so the classes stay balanced: the j-th generator of k gives
        # its rows j, j + k, ...
        assert len(ids) == reals + SOURCE_FAKES + reals
        assert {row["generator"] for row in ids} == {"", "stylegan", *fakes}
        for place, gan in enumerate(fakes):
            listed = [row["path"] for row in read_csv(project / paths.generated_listing(gan)) if row["split"] == split]
            assert [row["path"] for row in ids if row["generator"] == gan] == listed[place :: len(fakes)]
        # Twins of several families: each photo is paired with the twin of one family at most.
        chosen = {row["path"] for row in ids}
        photos = [
            row["group"]
            for row in all_generated(project)
            if row["path"] in chosen and row["generator"] in TWIN_FAMILIES
        ]
        assert len(photos) == len(set(photos))
    assert {row["generator"] for row in read_csv(processed("test", "ids.csv"))} == {"", "stylegan", "progan"}


def test_missing_generated_images_or_listing_are_clear_errors(project):
    gone = read_csv(project / DCGAN_LISTING)[-1]["path"]
    Path(gone).unlink()
    message = rf"1 image\(s\) listed in data/interim/generated/dcgan\.csv are missing \({re.escape(gone)}\)"
    with pytest.raises(GandctError, match=message):
        features.main(["test_dcgan"])
    assert not Path("data/processed").exists()
    features.main(["test"])  # the other generators' sets do not need its fakes
    Path(PROGAN_LISTING).unlink()
    with pytest.raises(GandctError, match=r"progan\.csv not found; run the progan stage first"):
        features.main(["train"])


def test_an_image_too_small_to_center_crop_names_the_file_until_crop_is_resize(project):
    rows = read_csv(project / "data/interim/manifest.csv")
    small = "data/raw/sample/real/small.png"
    save_png(Path(small), photo_like(np.random.default_rng(5), 40))
    rows.append({**rows[0], "path": small})
    write_listing(project / "data/interim/manifest.csv", rows)
    message = rf"cannot use {re.escape(small)}.*40x40 is smaller than features\.image_size=64"
    with pytest.raises(GandctError, match=message):
        features.main(["train"])
    set_features(project, crop="resize")
    features.main(["train"])
    assert read_csv(processed("train", "ids.csv"))[SPLIT_COUNTS["train"] + SOURCE_FAKES]["path"] == small


def test_a_train_split_without_fakes_is_an_error(project):
    rows = read_csv(project / PROGAN_LISTING)
    write_listing(project / PROGAN_LISTING, [row for row in rows if row["split"] != "train"])
    manifest = read_csv(project / "data/interim/manifest.csv")
    no_fakes = [row for row in manifest if not (row["split"] == "train" and row["label"] == "fake")]
    write_listing(project / "data/interim/manifest.csv", no_fakes)
    with pytest.raises(GandctError, match="the train split has only real images"):
        features.main(["train"])


def test_a_label_or_split_the_pipeline_does_not_know_is_an_error(project):
    rows = read_csv(project / PROGAN_LISTING)
    write_listing(project / PROGAN_LISTING, [{**rows[0], "split": "holdout"}, *rows[1:]])
    with pytest.raises(GandctError, match=r"progan\.csv: .* has split 'holdout'"):
        features.main(["val"])
    write_listing(project / PROGAN_LISTING, [*rows[:-1], {**rows[-1], "label": "maybe"}])
    with pytest.raises(GandctError, match="has label 'maybe', expected real or fake"):
        features.main([rows[-1]["split"]])


PROBE = """
import resource, sys
from gandct.stages.features import main
main(["train"])
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
    manifest = read_csv(project / "data/interim/manifest.csv")
    generated = read_csv(project / PROGAN_LISTING)
    peaks = []
    for repeat in (6, 24):
        write_listing(project / "data/interim/manifest.csv", manifest * repeat)
        write_listing(project / PROGAN_LISTING, generated * repeat)
        main_kib, workers_kib, heavy = run_probe(project)
        assert heavy == "[]"  # the stage never imports TensorFlow or Keras
        peaks.append((main_kib, workers_kib))
    rows = len(np.load(processed("train", "y.npy")))
    assert rows == 24 * (2 * SPLIT_COUNTS["train"] + SOURCE_FAKES)
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
            "features": {"image_size": 32, "color": "rgb"},
        }
    )
    project_copy.run("dvc", "repro", "prepare")
    root = project_copy.root
    rng = np.random.default_rng(0)
    rows = []
    fakes = [("progan", split) for split in ["train"] * 6 + ["val", "val", "test", "test"]] + [
        ("dcgan", split) for split in ("train", "val", "test", "test")
    ]
    fakes += [(generator, "test") for generator in paths.THIRD_PARTY_GENERATORS]  # test-only
    twins = [(family, split) for family in paths.AUTOGAN_GENERATORS for split in ("train", "val", "test")]
    for index, (generator, split) in enumerate([*fakes, *twins]):
        path = f"data/interim/generated/{generator}/{split}/{index:02d}.png"
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        save_png(root / path, gan_like(rng, 32))
        rows.append({"path": path, "label": "fake", "split": split, "group": "", "generator": generator, "sha256": ""})
    for generator in (*paths.GENERATORS, *paths.THIRD_PARTY_GENERATORS):
        write_listing(root / paths.generated_listing(generator), [row for row in rows if row["generator"] == generator])

    # --single-item: the generated fakes above stand in for the GAN stages, which must not run here.
    project_copy.run("dvc", "repro", "--single-item", "features", "test_features")
    manifest = read_csv(root / "data/interim/manifest.csv")
    train_rows = sum(row["split"] == "train" for row in manifest) + 6
    train_shape = np.load(root / "data/processed/train/dct.npy", mmap_mode="r").shape
    assert train_shape == (train_rows, 32, 32, 3)  # features.color: rgb, three channels
    assert DctStats.load(root / paths.DCT_STATS).count == train_rows
    assert np.load(root / "data/processed/test_dcgan/y.npy").tolist().count(1.0) == 2
    again = project_copy.run("dvc", "repro", "--single-item", "features", "test_features")
    assert "Running stage" not in again.stdout

    # A new listing of one family re-runs the features that may read it, train and val as well as that
    # family's test set; under train.fakes: [progan] train and val come out byte for byte the same, so what
    # reads them has nothing to re-run.
    def outs() -> dict[str, str]:
        lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]
        return {name: stage["outs"][0]["md5"] for name, stage in lock.items() if "features@" in name}

    before = outs()
    twins = [{**row, "sha256": "new"} for row in rows if row["generator"] == "autogan_bilinear"]
    write_listing(root / paths.generated_listing("autogan_bilinear"), twins)
    ran = project_copy.run("dvc", "repro", "--single-item", "features", "test_features").stdout
    assert {line.split("'")[1] for line in ran.splitlines() if line.startswith("Running stage")} == {
        "features@train",
        "features@val",
        "test_features@test_autogan_bilinear",
    }
    assert outs() == before


def session_processes(session: int) -> list[str]:
    """`pid command` of every live process in a session (from /proc: field 6 of stat is the session id)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # ended meanwhile
        if int(fields[3]) == session and fields[0] != "Z":
            found.append(f"{stat.parent.name} {command[:100]}")
    return found


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_stopped_run_leaves_no_process_behind_and_the_next_run_cleans_up(project, sig):
    """Stop the stage while its workers transform images: within a few seconds no process of the run is
    left (fork server, workers, resource tracker), and the staging folder is gone now or at the next run."""
    features.main(["train"])
    before = processed("train", "dct.npy").read_bytes()
    set_features(project, workers=2, chunk_size=1)  # many small jobs: the run lasts long enough to be stopped
    for listing in (project / "data/interim/manifest.csv", project / PROGAN_LISTING):
        write_listing(listing, read_csv(listing) * 40)
    stage = subprocess.Popen(
        [sys.executable, "-m", "gandct.stages.features", "train"],
        cwd=project,
        env=pipeline_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own session: every process it starts can be found by the session id
    )
    try:
        staging = Path("data/processed")
        # 2 workers, the fork server, the resource tracker and the stage itself, and a staging folder
        started = wait_for(lambda: len(session_processes(stage.pid)) >= 5 and any(staging.glob(".train.*")), 60)
        assert started and stage.poll() is None, session_processes(stage.pid)
        stage.send_signal(sig)
        _, stderr = stage.communicate(timeout=30)
        assert stage.returncode == (128 + sig if sig == signal.SIGTERM else -sig)
        assert wait_for(lambda: not session_processes(stage.pid), 5), session_processes(stage.pid)
        if sig == signal.SIGTERM:
            assert "Traceback" not in stderr.decode() and "stopped by SIGTERM" in stderr.decode()
            assert not any(staging.glob(".train.*"))
        else:
            assert any(staging.glob(".train.*"))  # nothing could remove it...
            set_features(project, workers=2, chunk_size=5)
            features.main(["train"])  # ...until the next run
            assert not any(staging.glob(".train.*"))
        if sig == signal.SIGTERM:
            assert processed("train", "dct.npy").read_bytes() == before  # the previous output is untouched
    finally:
        for process in session_processes(stage.pid):
            os.kill(int(process.split()[0]), signal.SIGKILL)
        if stage.poll() is None:
            stage.kill()
            stage.wait()


def test_jobs_are_at_most_chunk_size_and_every_worker_gets_several():
    assert features.job_size(10_000, 128, 2) == 128  # a large split: the configured chunk
    assert features.job_size(60, 128, 2) == 8  # a small split: 8 jobs, 4 per worker, not one job on one worker
    assert features.job_size(3, 128, 2) == 1
    for count in (1, 7, 60, 500, 10_000):
        size = features.job_size(count, 128, 2)
        assert 1 <= size <= 128 and (-(-count // size) >= 8 or size == 1)
