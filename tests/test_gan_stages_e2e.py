"""`dvc repro progan dcgan` in a temporary copy of the repository, with tiny data and tiny GANs."""

from __future__ import annotations

import hashlib
import json
from collections import Counter

import numpy as np
import pytest
from helpers import TINY_AUGMENT, images_in_plain_keras

from gandct.fileio import read_csv

TINY = {
    "data": {"patch_size": 32, "patches_per_photo": 3},
    "prepare": {"min_per_split": 2},
    **TINY_AUGMENT,  # a resolution below the patch size: the GANs learn the central 16 px, as the detectors read
}
TINY_LATENTS = np.random.default_rng(0).normal(size=(2, 8)).astype(np.float32)


@pytest.mark.slow
def test_dvc_repro_gan_stages_write_the_fakes_keep_the_checkpoints_and_rerun_only_their_own(project_copy, tmp_path):
    project_copy.set_params(TINY)
    project_copy.run("dvc", "repro", "progan", "dcgan")
    root = project_copy.root

    reals = Counter(row["split"] for row in read_csv(root / "data/interim/manifest.csv"))
    listed = {name: read_csv(root / f"data/interim/generated/{name}.csv") for name in ("progan", "dcgan")}
    for name, rows in listed.items():
        assert Counter(row["split"] for row in rows) == {s: reals[s] for s in ("train", "val", "test")}
        assert {row["generator"] for row in rows} == {name}
        for row in rows:
            assert hashlib.sha256((root / row["path"]).read_bytes()).hexdigest() == row["sha256"]
        generator = root / f"models/{name}/generator.keras"
        assert images_in_plain_keras(generator, TINY_LATENTS, tmp_path).shape == (2, 16, 16, 3)
        assert (root / f"models/checkpoints/{name}/state.json").is_file()
    losses = (root / "reports/augment/progan_losses.tsv").read_text().splitlines()
    assert len(losses) == 1 + 2 + 2 + 2 + 2 + 2  # header + two steps in each of the five phases
    timings = json.loads((root / "reports/augment/progan_timings.json").read_text())
    assert set(timings["training_phases"]) == {
        "4x4 stable",
        "8x8 fade-in",
        "8x8 stable",
        "16x16 fade-in",
        "16x16 stable",
    }
    assert "up to date" in project_copy.run("dvc", "status", "progan", "dcgan").stdout

    # The checkpoint interval cannot change an output; one GAN's params do not touch the other GAN's stage.
    project_copy.set_params({"augment": {"checkpoint_seconds": 5.0, "dcgan": {"learning_rate": 0.001}}})
    status = project_copy.run("dvc", "status", "progan", "dcgan", "--json").stdout
    assert set(json.loads(status)) == {"dcgan"}

    # A params change that does not touch training re-runs the stages; the persisted checkpoints are reused.
    project_copy.set_params({"augment": {"dcgan": {"learning_rate": 0.0002}, "per_split": {"train": 5}}})
    rerun = project_copy.run("dvc", "repro", "progan", "dcgan")
    log = rerun.stdout + rerun.stderr
    assert log.count("nothing left to train") == 2  # the ProGAN's and the DCGAN's
    assert Counter(row["split"] for row in read_csv(root / "data/interim/generated/progan.csv"))["train"] == 5
