"""End to end: a real `dvc repro` of the pipeline in a temporary copy of the repository, tiny params."""

from __future__ import annotations

import csv

import pytest

TINY = {
    "data": {"patch_size": 32, "patches_per_photo": 4},
    "prepare": {"min_per_split": 2},
}


@pytest.mark.slow
def test_dvc_repro_runs_every_stage_then_reports_nothing_changed(project_copy):
    project_copy.set_params(TINY)
    project_copy.run("dvc", "repro")

    root = project_copy.root
    with (root / "data/interim/manifest.csv").open(newline="") as handle:
        manifest = list(csv.DictReader(handle))
    assert len(manifest) >= 60
    assert {row["split"] for row in manifest} == {"train", "val", "test"}

    again = project_copy.run("dvc", "repro")
    assert "Data and pipelines are up to date." in again.stdout
    assert "Running stage" not in again.stdout
