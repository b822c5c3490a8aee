"""A folder of every awkward kind of file, through download + prepare, predict and heatmap as a user runs
them: every entry under the folder is indexed or listed with its reason, and nothing ends in a traceback.
Also the wrong `--out` / `--batch-size` arguments of predict and heatmap: one line, non-zero, nothing written."""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from helpers import REPO, gan_like, palette_png, photo_like, pipeline_env, png_bomb
from PIL import Image

from gandct import cli
from gandct.fileio import read_csv


def gandct(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    # the timeout turns a read that blocks (a named pipe) into a failure instead of a hung test run
    return subprocess.run(["gandct", *args], cwd=cwd, env=pipeline_env(), capture_output=True, text=True, timeout=300)


def run_cli(*argv: str) -> int:
    """Run `gandct ARGV` in this process (no TensorFlow start-up per call); return its exit status."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main(list(argv))
    return exit_info.value.code


def save(path: Path, rgb: np.ndarray, **options: object) -> None:
    """Write with PIL, which also writes the formats and metadata (EXIF) OpenCV cannot."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path, **options)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], set[str]]:
    """The folder, the reason (start) prepare must give for each bad entry, and the entries indexed via a link."""
    base = tmp_path_factory.mktemp("corpus")
    folder, outside = base / "images", base / "elsewhere"
    rng = np.random.default_rng(0)
    for label, make in (("real", photo_like), ("fake", gan_like)):
        for index in range(10):
            save(folder / label / f"{label}_{index:02d}.png", make(rng, 48))
    real, fake = folder / "real", folder / "fake"
    # Good files in every format and shape the decoder converts.
    save(real / "nested" / "deeper" / "photo.webp", photo_like(rng, 48), lossless=True)
    save(real / "photo.bmp", photo_like(rng, 48))
    save(real / "photo.tif", photo_like(rng, 48))
    save(real / "photo.gif", photo_like(rng, 48))
    save(real / "UPPER.PNG", photo_like(rng, 48))
    save(real / "UPPER.JPG", photo_like(rng, 48), quality=90)
    save(real / "gray.jpg", photo_like(rng, 48)[:, :, 0], quality=90)
    save(real / "rgba.png", np.dstack([photo_like(rng, 48), np.full((48, 48), 200, np.uint8)]))
    cv2.imwrite(str(real / "deep16.png"), photo_like(rng, 48).astype(np.uint16) * 257)
    (real / "palette.png").write_bytes(palette_png(photo_like(rng, 48)))
    save(real / "spaces and ünïcödé.png", photo_like(rng, 48))
    save(real / ".hidden.png", photo_like(rng, 48))
    save(fake / "same_name.png", gan_like(rng, 48))
    save(real / "same_name.png", photo_like(rng, 48))  # same file name in another folder
    upright = photo_like(rng, 48)[:, :40]
    save(real / "upright.png", upright)
    exif = Image.new("RGB", (1, 1)).getexif()
    exif[0x0112] = 8  # "turn left to view": stored turned right, so it decodes to upright.png's pixels
    save(real / "upright_stored_turned.png", np.ascontiguousarray(np.rot90(upright, -1)), exif=exif)
    save(real / "exif_rotated.jpg", np.ascontiguousarray(photo_like(rng, 48)[:, :36]), quality=90, exif=exif)
    # A symbolic link to a folder outside: followed, its images indexed under the link's name.
    for index in range(2):
        save(outside / f"linked_{index}.png", photo_like(rng, 48))
    (real / "linked").symlink_to(outside)
    # Bad entries.
    (real / "empty.png").write_bytes(b"")
    (real / "text.jpg").write_text("not an image\n")
    jpeg = io.BytesIO()
    Image.fromarray(photo_like(rng, 48)).save(jpeg, "JPEG")
    (real / "truncated.jpg").write_bytes(jpeg.getvalue()[: len(jpeg.getvalue()) // 2])
    save(real / "tiny.png", photo_like(rng, 16))
    (real / "real_00_copy.png").write_bytes((real / "real_00.png").read_bytes())
    (real / "bomb.png").write_bytes(png_bomb(20000, 20000))
    (real / "loop").symlink_to(folder)
    (real / "dangling.png").symlink_to(folder / "gone.png")
    (real / "self_loop.png").symlink_to(real / "self_loop.png")
    os.mkfifo(real / "pipe.png")  # reading it would wait for a writer forever
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(real / "socket.png"))
    listener.close()  # the socket file stays
    save(folder / "unsorted" / "who.png", photo_like(rng, 48))
    bad = {
        "real/empty.png": "empty file",
        "real/text.jpg": "not a decodable image",
        "real/truncated.jpg": "not a decodable image",
        "real/tiny.png": "too small: 16x16 < prepare.min_size=32",
        "real/real_00_copy.png": "duplicate of ",
        "real/upright_stored_turned.png": "duplicate of ",  # the EXIF orientation made its pixels upright.png's
        "real/bomb.png": "image too large: 20000x20000",
        "real/loop": "symbolic link to a folder it is inside (a loop): not followed",
        "real/dangling.png": "broken symbolic link: No such file or directory",
        "real/self_loop.png": "broken symbolic link: Too many levels of symbolic links",
        "real/pipe.png": "named pipe, not a regular file: not read",
        "real/socket.png": "socket, not a regular file: not read",
        "unsorted/who.png": "no label",
    }
    return folder, bad, {f"real/linked/linked_{index}.png" for index in range(2)}


def entries(folder: Path) -> set[str]:
    """Every entry under the folder, counted without the code under test: `find` following links, plus
    the links `find` reports as loops or broken."""
    command = ["find", "-L", ".", "!", "-type", "d"]
    listed = subprocess.run(command, cwd=folder, capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"})
    found = {line.removeprefix("./") for line in listed.stdout.splitlines()}
    loops = re.findall(
        r"'\./([^']+)'(?:: Too many levels of symbolic links| is part of the same file system loop)", listed.stderr
    )
    return found | set(loops)


def test_every_entry_is_in_the_manifest_or_rejected_with_its_reason(corpus, tmp_path):
    folder, bad, linked = corpus
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"].update(source="folder", folder=str(folder))
    params["prepare"].update(min_size=32, min_per_split=1)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    for stage in ("download", "prepare"):
        result = gandct(tmp_path, stage)
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    manifest = [
        Path(row["path"]).relative_to(folder).as_posix() for row in read_csv(tmp_path / "data/interim/manifest.csv")
    ]
    rejected = {
        Path(row["path"]).relative_to(folder).as_posix(): row["reason"]
        for row in read_csv(tmp_path / "data/interim/rejected.csv")
    }
    everything = entries(folder)
    assert "real/loop" in everything and linked <= everything
    # the accounting identity: files under the folder = manifest rows + rejected rows, each once
    assert len(manifest) == len(set(manifest))
    assert set(manifest).isdisjoint(rejected)
    assert len(everything) == len(manifest) + len(rejected)
    assert set(manifest) | set(rejected) == everything
    assert set(rejected) == set(bad)
    for name, reason in bad.items():
        assert rejected[name].startswith(reason), (name, rejected[name])
    assert rejected["real/real_00_copy.png"] == f"duplicate of {folder / 'real/real_00.png'} (identical bytes)"
    assert (
        rejected["real/upright_stored_turned.png"] == f"duplicate of {folder / 'real/upright.png'} (identical pixels)"
    )
    assert linked <= set(manifest) and "real/.hidden.png" in manifest
    print(f"corpus: {len(everything)} entries = {len(manifest)} manifest + {len(rejected)} rejected")


@pytest.fixture(scope="module")
def detector(tmp_path_factory: pytest.TempPathFactory, corpus) -> Path:
    """An untrained paper CNN with statistics of a few corpus images: scoring needs no training."""
    import keras  # noqa: F401 - after the module's light imports, only for this fixture

    from gandct.dct import DctStats, Moments, Preprocessing, frame_images, log_spectra
    from gandct.images import load_rgb
    from gandct.models import paper_cnn

    folder = corpus[0]
    preprocessing = Preprocessing(image_size=32, crop="center", color="gray", jpeg_quality=None, eps=1e-3)
    framed = frame_images([load_rgb(folder / "real" / f"real_{i:02d}.png") for i in range(4)], preprocessing)
    stats = DctStats.from_moments(Moments.of(log_spectra(framed, preprocessing.eps)), preprocessing)
    models = tmp_path_factory.mktemp("models")
    paper_cnn(preprocessing.shape).save(models / "paper.keras")
    stats.save(models / "paper.dct_stats.npz")
    (models / "paper.threshold.json").write_text('{"threshold": 0.5}')  # as the train stage saves it
    return models / "paper.keras"


def test_predict_and_heatmap_give_each_entry_a_row_or_a_skip_message(corpus, detector, tmp_path):
    folder, bad, _ = corpus
    everything = entries(folder)
    out = tmp_path / "scores.csv"
    result = gandct(tmp_path, "predict", str(folder), "--model", str(detector), "--out", str(out))
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    rows = {Path(row["path"]).relative_to(folder).as_posix(): row for row in read_csv(out)}
    assert set(rows) == everything and len(read_csv(out)) == len(everything)
    for row in rows.values():
        assert bool(row["error"]) != bool(row["p_fake"]), row  # a score or an error, never both or neither
    unusable = {
        name
        for name in bad
        if name not in ("real/real_00_copy.png", "real/upright_stored_turned.png", "unsorted/who.png")
    }
    assert {name for name, row in rows.items() if row["error"]} == unusable
    assert rows["real/bomb.png"]["error"].startswith("image too large: 20000x20000")
    assert rows["real/tiny.png"]["error"].startswith("16x16 is smaller than one 32x32 tile")
    # the EXIF orientation is applied before scoring too: the turned copy scores as its upright twin
    assert rows["real/upright_stored_turned.png"]["p_fake"] == rows["real/upright.png"]["p_fake"]

    maps = tmp_path / "maps"
    result = gandct(tmp_path, "heatmap", str(folder), "--out", str(maps))
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    written = {p.relative_to(maps).as_posix() for p in maps.rglob("*.png")}
    skipped = re.findall(rf"WARNING gandct\.commands\.heatmap: skipped {re.escape(str(folder))}/(.+?): ", result.stderr)
    assert len(skipped) == len(set(skipped)) == len(unusable) - 1  # tiny.png is drawn whole, at its own size
    assert set(skipped) == unusable - {"real/tiny.png"}
    assert len(written) + len(skipped) == len(everything)
    assert {"real/same_name_dct.png", "fake/same_name_dct.png"} <= written  # same name, two outputs
    assert {"real/UPPER_PNG_dct.png", "real/UPPER_JPG_dct.png", "real/photo_bmp_dct.png"} <= written


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch-size", "0"], "--batch-size must be at least 1, got 0"),
        (["--batch-size", "-1"], "--batch-size must be at least 1, got -1"),
        (["--out", "{folder}"], "--out: {folder} is a folder; give a file name"),
        (["--out", "{file}/scores.csv"], "--out: {file} is a file, so nothing can be written under it"),
        (["--out", "/sys/scores.csv"], "--out: cannot write in /sys (Permission denied)"),
    ],
)
def test_wrong_predict_arguments_are_one_line_naming_the_option(tmp_path, monkeypatch, capsys, args, message):
    folder, file = tmp_path / "out_folder", tmp_path / "a_file"
    folder.mkdir()
    file.write_text("x")
    names = {"folder": folder, "file": file}
    args = [arg.format(**names) for arg in args]
    save(tmp_path / "image.png", photo_like(np.random.default_rng(0), 40))
    before = sorted(tmp_path.rglob("*"))
    monkeypatch.chdir(tmp_path)
    assert run_cli("predict", "image.png", "--model", "no_model_needed.keras", *args) == 1
    assert capsys.readouterr() == ("", f"gandct predict: error: {message.format(**names)}\n")
    assert sorted(tmp_path.rglob("*")) == before


def test_wrong_heatmap_out_and_an_empty_folder(tmp_path, monkeypatch, capsys):
    save(tmp_path / "image.png", photo_like(np.random.default_rng(0), 40))
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "empty").mkdir()
    before = sorted(tmp_path.rglob("*"))
    monkeypatch.chdir(tmp_path)
    for inputs, out, message in (
        ("image.png", "a_file", "--out: a_file is a file; give a folder"),
        ("image.png", "a_file/maps", "--out: a_file is a file, so nothing can be written under it"),
        ("empty", "maps", "no files found in empty; nothing was written"),
    ):
        assert run_cli("heatmap", inputs, "--out", out) == 1
        assert capsys.readouterr().err == f"gandct heatmap: error: {message}\n"
    assert sorted(tmp_path.rglob("*")) == before


def test_predict_on_a_folder_without_files_says_so(tmp_path, detector, monkeypatch, capsys, caplog):
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path)
    assert run_cli("predict", "empty", "--model", str(detector)) == 0
    assert capsys.readouterr().out.strip() == "path,view,tiles,p_fake,logit,p_fake_max,label,error"
    assert "no files found in empty: nothing to score" in caplog.text
