"""The detectors shipped inside the package: the very files of the default run that dvc.lock records, loaded by
name, and used by `gandct predict` without --model, from any folder."""

from __future__ import annotations

import hashlib
import subprocess
from importlib import resources

import numpy as np
import pytest
import yaml
from helpers import REPO, pipeline_env

from gandct import paths
from gandct.detector import SHIPPED, load_detector, shipped_model
from gandct.images import load_rgb, save_png

PHOTO = resources.files("skimage") / "data/astronaut.png"  # 512x512, a colour photograph


def recorded_outputs() -> dict[str, str]:
    """path -> md5 of every output the committed dvc.lock records."""
    lock = yaml.safe_load((REPO / "dvc.lock").read_text())
    return {out["path"]: out.get("md5") for stage in lock["stages"].values() for out in stage.get("outs", [])}


@pytest.mark.parametrize("name", SHIPPED)
def test_a_shipped_detector_is_the_default_runs_model_that_dvc_lock_records(name):
    recorded = recorded_outputs()
    model = paths.detector_model(name)
    for run_file, shipped in (
        (model, shipped_model(name)),
        (paths.model_stats(model), paths.model_stats(shipped_model(name))),
        (paths.model_threshold(model), paths.model_threshold(shipped_model(name))),
    ):
        assert hashlib.md5(shipped.read_bytes()).hexdigest() == recorded[run_file.as_posix()], (
            f"{shipped} is not the {run_file} of the committed run: copy it again after dvc repro"
        )


def test_load_detector_by_name_scores_a_photo():
    detector = load_detector("custom")
    assert detector.name == "custom" and 0 <= detector.threshold <= 1 and not detector.is_attributor
    p_fake = detector.predict([load_rgb(PHOTO)])
    assert p_fake.shape == (1,) and 0 <= p_fake[0] <= 1
    assert load_detector("paper").name == "paper"


def test_predict_without_a_model_uses_the_shipped_one_and_scores_every_tile(tmp_path):
    """Outside the repository, as a new user runs it: a 200x130 photo is 4 x 3 tiles of 64 px (flush borders)."""
    save_png(tmp_path / "photo.png", load_rgb(PHOTO)[:130, :200])
    result = subprocess.run(
        ["gandct", "predict", "photo.png"], cwd=tmp_path, env=pipeline_env(), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.strip().splitlines()
    values = dict(zip(header.split(","), row.split(","), strict=True))
    assert values["view"] == "tiles" and values["tiles"] == "12" and values["error"] == ""
    assert float(values["p_fake"]) <= float(values["p_fake_max"]) <= 1
    assert f"model: {shipped_model('custom')} (shipped inside the package)" in result.stderr
    tiles = [load_rgb(tmp_path / "photo.png")[t : t + 64, s : s + 64] for t in (0, 64, 66) for s in (0, 64, 128, 136)]
    expected = load_detector("custom").predict(tiles)
    assert float(values["p_fake"]) == pytest.approx(float(np.mean(expected)), rel=1e-9)
