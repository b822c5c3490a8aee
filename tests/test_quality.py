"""The quality stage on a tiny project in tmp_path: real PNGs, a manifest, both generators' listings and the
twin families' listings."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from helpers import REPO, deep_update, gan_like, photo_like

from gandct import cli, paths
from gandct.errors import GandctError
from gandct.fileio import write_csv
from gandct.images import load_rgb, save_png
from gandct.stages import quality

COLUMNS = ["path", "label", "split", "group", "generator", "sha256"]
QUALITY_PARAMS = {"quality": {"images_per_set": 1000, "neighbourhoods": 16, "directions": 32, "repeats": 2}}
# The noise (standard deviation, grey levels) the twins of each family and third-party generator add to their
# photo: PSNR falls as it grows.
TWIN_NOISE = {
    generator: 2.0 * (index + 1)
    for index, generator in enumerate((*paths.AUTOGAN_GENERATORS, *paths.THIRD_PARTY_GENERATORS))
}


def write_twins(root: Path, reals: list[dict[str, str]], generator: str, noise: float) -> None:
    """A twin of every test real, named by its stem as the autogan stage names it: the photo plus seeded noise."""
    rng = np.random.default_rng(int(noise * 10))
    rows = []
    for real in reals:
        image = load_rgb(root / real["path"]).astype(np.float64)
        twin = np.clip(np.round(image + rng.normal(0, noise, image.shape)), 0, 255).astype(np.uint8)
        relative = f"{paths.generated_dir(generator).as_posix()}/test/{Path(real['path']).stem}.png"
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        save_png(root / relative, twin)
        rows.append({**real, "path": relative, "label": "fake", "generator": generator})
    write_csv(root / paths.generated_listing(generator), COLUMNS, rows)


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
    """12 train reals (72x80: the stage takes their central 64x64, the view of features.crop), 8 test reals, 8 fakes
    per GAN."""
    monkeypatch.chdir(tmp_path)
    params = deep_update(yaml.safe_load((REPO / "params.yaml").read_text()), QUALITY_PARAMS)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    wide = lambda rng: cv2.resize(photo_like(rng, 96), (80, 72), interpolation=cv2.INTER_AREA)  # noqa: E731
    manifest = write_images(tmp_path, "data/raw/sample/train", wide, 12, 0, label="real", split="train")
    test_reals = write_images(tmp_path, "data/raw/sample/test", photo_like, 8, 1, label="real", split="test")
    manifest += test_reals
    write_csv(tmp_path / paths.MANIFEST, COLUMNS, manifest)
    for seed, gan in enumerate(quality.GENERATORS, start=2):
        folder = paths.generated_dir(gan) / "test"
        rows = write_images(tmp_path, folder.as_posix(), gan_like, 8, seed, label="fake", split="test")
        write_csv(tmp_path / paths.generated_listing(gan), COLUMNS, [{**row, "generator": gan} for row in rows])
    for generator, noise in TWIN_NOISE.items():
        write_twins(tmp_path, test_reals, generator, noise)
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


def test_each_twin_family_gets_the_psnr_of_its_twins_against_their_photos(project):
    quality.main([])
    results = json.loads((project / paths.GAN_QUALITY).read_text())
    for generator, noise in TWIN_NOISE.items():
        entry = results[generator]
        assert entry["pairs"] == 8
        assert entry["psnr_p10"] <= entry["psnr_median"] <= entry["psnr_p90"]
        # Gaussian noise of standard deviation s (before rounding and clipping): PSNR near 20 log10(255 / s).
        assert entry["psnr_median"] == pytest.approx(20 * np.log10(255 / noise), abs=0.5)


def test_psnr_of_a_known_error():
    reference = np.full((4, 4, 3), 100, np.uint8)
    image = reference.copy()
    image[0, 0, 0] = 110  # one error of 10 in 48 values: mse 100 / 48
    assert quality.psnr(image, reference) == pytest.approx(10 * np.log10(255**2 * 48 / 100))
    assert quality.psnr(reference, reference) == float("inf")
    with pytest.raises(GandctError, match="a twin of shape"):
        quality.psnr(image[:2], reference)


def test_a_family_without_twins_of_the_test_photos_is_one_clear_error(project):
    listing = paths.generated_listing(paths.AUTOGAN_GENERATORS[0])
    listing.write_text(listing.read_text().splitlines()[0] + "\n")
    with pytest.raises(GandctError, match="holds no twin of a test real"):
        quality.main([])


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
