"""The quality stage on a tiny project in tmp_path: real PNGs, a manifest and both generators' listings."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from conftest import REPO, deep_update, gan_like, photo_like

from gandct import cli, paths, quality
from gandct.errors import GandctError
from gandct.fileio import write_csv
from gandct.images import load_rgb, save_png

COLUMNS = ["path", "label", "split", "group", "generator", "sha256"]
QUALITY_PARAMS = {"quality": {"images_per_set": 1000, "neighbourhoods": 16, "directions": 32, "repeats": 2}}


def write_images(root: Path, folder: str, make, count: int, seed: int, **row: str) -> list[dict[str, str]]:
    """`count` PNGs from `make` under root/folder, and their rows with the manifest's columns."""
    rng = np.random.default_rng(seed)
    rows = []
    for index in range(count):
        relative = f"{folder}/{index:03d}.png"
        (root / folder).mkdir(parents=True, exist_ok=True)
        image = make(rng)
        save_png(root / relative, image)
        digest = hashlib.sha256((root / relative).read_bytes()).hexdigest()
        rows.append({"path": relative, "group": f"{folder}-{index}", "generator": "", "sha256": digest, **row})
    return rows


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """12 train reals (72x80: the stage crops and resizes them to 64x64), 8 test reals, 8 fakes per GAN."""
    monkeypatch.chdir(tmp_path)
    params = deep_update(yaml.safe_load((REPO / "params.yaml").read_text()), QUALITY_PARAMS)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    wide = lambda rng: cv2.resize(photo_like(rng, 96), (80, 72), interpolation=cv2.INTER_AREA)  # noqa: E731
    manifest = write_images(tmp_path, "data/raw/sample/train", wide, 12, 0, label="real", split="train")
    manifest += write_images(tmp_path, "data/raw/sample/test", photo_like, 8, 1, label="real", split="test")
    write_csv(tmp_path / paths.MANIFEST, COLUMNS, manifest)
    for seed, gan in enumerate(quality.GENERATORS, start=2):
        folder = paths.generated_dir(gan) / "test"
        rows = write_images(tmp_path, folder.as_posix(), gan_like, 8, seed, label="fake", split="test")
        write_csv(tmp_path / paths.generated_listing(gan), COLUMNS, [{**row, "generator": gan} for row in rows])
    return tmp_path


def test_stage_writes_the_distances_and_their_figure(project):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["quality"])
    assert exit_info.value.code == 0
    results = json.loads((project / paths.GAN_QUALITY).read_text())
    # the halves of the 12 train reals limit every set to 6 images
    assert results["images_per_set"] == 6
    keys = {"swd_64", "swd_32", "swd_16", "swd_avg"}
    assert set(results["floor"]) == keys
    floor = results["floor"]["swd_avg"]
    assert floor > 0
    for name in ("test_reals", "progan", "dcgan"):
        entry = results[name]
        assert set(entry) == keys | {"ratio_to_floor"}
        assert entry["swd_avg"] == pytest.approx(np.mean([entry[f"swd_{side}"] for side in (64, 32, 16)]), abs=1e-3)
        assert entry["ratio_to_floor"] == pytest.approx(entry["swd_avg"] / floor, rel=1e-3)
    # fakes with an up-sampling checkerboard are further from the reals than other reals are
    assert results["progan"]["ratio_to_floor"] > results["test_reals"]["ratio_to_floor"]
    figure = load_rgb(project / paths.GAN_QUALITY_FIGURE)
    assert figure.shape[0] > 300 and figure.std() > 10


def test_same_params_give_the_same_file(project):
    quality.main([])
    first = (project / paths.GAN_QUALITY).read_bytes()
    quality.main([])
    assert (project / paths.GAN_QUALITY).read_bytes() == first


def test_a_missing_listing_is_one_clear_error(project):
    paths.generated_listing("dcgan").unlink()
    with pytest.raises(GandctError, match=r"generated/dcgan\.csv not found; run the dcgan stage"):
        quality.main([])
    assert not (project / paths.GAN_QUALITY).exists()


def test_too_few_images_is_one_clear_error(project):
    listing = paths.generated_listing("progan")
    header, first_row = listing.read_text().splitlines()[:2]
    listing.write_text(f"{header}\n{first_row}\n")
    with pytest.raises(GandctError, match="too few images to compare"):
        quality.main([])


def test_params_section_is_validated(project):
    params = yaml.safe_load(Path("params.yaml").read_text())
    params["quality"]["repeat"] = 4
    Path("params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(GandctError, match=r"quality\.repeat: unknown key"):
        quality.main([])
