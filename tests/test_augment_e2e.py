"""`dvc repro augment` in a temporary copy of the repository, with tiny data and a tiny ProGAN."""

from __future__ import annotations

import hashlib
import json
from collections import Counter

import keras
import pytest
from conftest import TINY_AUGMENT

import gandct.progan  # noqa: F401 - registers the custom layers the saved ProGAN generator is made of
from gandct.fileio import read_csv

TINY = {
    "data": {"patch_size": 32, "patches_per_photo": 6},
    "prepare": {"min_per_split": 2},
    **TINY_AUGMENT,  # a resolution below the patch size: the reals are resized for training
}


@pytest.mark.slow
def test_dvc_repro_augment_writes_the_fakes_and_keeps_the_checkpoint(project_copy):
    project_copy.set_params(TINY)
    project_copy.run("dvc", "repro", "augment")
    root = project_copy.root

    reals = Counter(row["split"] for row in read_csv(root / "data/interim/manifest.csv"))
    fakes = read_csv(root / "data/interim/generated.csv")
    by_split = Counter((row["split"], row["generator"]) for row in fakes)
    assert by_split == {
        ("train", "progan"): reals["train"],
        ("val", "progan"): reals["val"],
        ("test", "progan"): reals["test"],
        ("test_unseen", "dcgan"): reals["test"],
    }
    for row in fakes:
        assert hashlib.sha256((root / row["path"]).read_bytes()).hexdigest() == row["sha256"]
    for name in ("progan", "dcgan"):
        generator = keras.saving.load_model(root / f"models/{name}/generator.keras", safe_mode=True, compile=False)
        assert generator.outputs[0].shape[1:] == (16, 16, 3)
    losses = (root / "reports/augment/progan_losses.tsv").read_text().splitlines()
    assert len(losses) == 1 + 2 + 2 + 2 + 2 + 2  # header + two steps in each of the five phases
    timings = json.loads((root / "reports/augment/timings.json").read_text())
    assert set(timings["progan_phases"]) == {"4x4 stable", "8x8 fade-in", "8x8 stable", "16x16 fade-in", "16x16 stable"}
    assert (root / "models/checkpoints/progan/state.json").is_file()
    status = project_copy.run("dvc", "status", "augment").stdout
    assert "up to date" in status

    # A params change that does not touch training re-runs the stage; the persisted checkpoint is reused.
    project_copy.set_params({"augment": {"per_split": {"train": 5}}})
    rerun = project_copy.run("dvc", "repro", "augment")
    log = rerun.stdout + rerun.stderr
    assert log.count("nothing left to train") == 2  # the ProGAN's and the DCGAN's
    fakes = read_csv(root / "data/interim/generated.csv")
    assert Counter(row["split"] for row in fakes)["train"] == 5
