"""End to end: a real `dvc repro` of the whole pipeline in a temporary copy of the repository, tiny params;
then sharing the trained models through a DVC remote into a second clone."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml
from conftest import REPO, TINY_AUGMENT, ProjectCopy, copy_project, deep_update

from gandct import paths
from gandct.fileio import read_csv
from gandct.params import parse_params

TINY = {
    "data": {"patch_size": 32, "patches_per_photo": 6},
    "prepare": {"min_per_split": 2},
    **TINY_AUGMENT,
    "features": {"image_size": 16, "chunk_size": 32},
    "train": {
        "paper": {"epochs": 2, "batch_size": 16},
        "custom": {"epochs": 2, "batch_size": 16, "width": 4},
        "paper_pixel": {"epochs": 2, "batch_size": 16},
    },
    "evaluate": {"perturbations": {"jpeg": [75], "blur": [], "downscale": [], "noise": [5.0]}},
    "report": {"examples_per_class": 2, "smoothgrad_images": 8, "smooth_samples": 3},
}
MODELS = ["paper", "custom", "linear", "paper_pixel"]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> ProjectCopy:
    """The repository copied, given tiny params, committed, and run once with `dvc repro`."""
    project = copy_project(tmp_path_factory.mktemp("pipeline"))
    project.set_params(TINY)
    project.commit("tiny params")
    project.run("dvc", "repro")
    return project


@pytest.mark.slow
def test_every_declared_output_exists(pipeline):
    lock = yaml.safe_load((pipeline.root / "dvc.lock").read_text())
    stages = set(lock["stages"])
    assert stages == {"download", "prepare", "progan", "dcgan", "autogan", "quality", "evaluate", "report"} | {
        f"train@{name}" for name in MODELS
    } | {f"features@{split}" for split in paths.FEATURE_SPLITS}
    for name, stage in lock["stages"].items():
        for out in stage.get("outs", []):
            assert (pipeline.root / out["path"]).exists(), f"{name}: {out['path']}"
    for name in MODELS:
        assert (pipeline.root / paths.detector_model(name)).is_file()
        assert (pipeline.root / f"reports/metrics/{name}_train.json").is_file()
    report = (pipeline.root / "reports/report.md").read_text()
    assert "| custom |" in report and "## Reading" in report


@pytest.mark.slow
def test_dvc_reads_the_metrics_and_a_second_repro_changes_nothing(pipeline):
    shown = json.loads(pipeline.run("dvc", "metrics", "show", "--json").stdout)
    metrics = shown[""]["data"]["reports/metrics.json"]["data"]
    assert set(metrics) == set(MODELS)
    assert set(metrics["custom"]) == {"test", "test_unseen", "test_paired", "jpeg_75", "noise_5"}
    assert metrics["paper"]["test"]["images"] == len(read_csv(pipeline.root / paths.features_file("test", "ids.csv")))
    again = pipeline.run("dvc", "repro")
    assert "Data and pipelines are up to date." in again.stdout
    assert "Running stage" not in again.stdout


@pytest.mark.slow
def test_models_shared_through_a_dvc_remote_predict_the_same_in_a_second_clone(pipeline, tmp_path):
    store, clone_root = tmp_path / "store", tmp_path / "clone"
    pipeline.run("dvc", "remote", "add", "-d", "store", str(store))
    pipeline.run("dvc", "push")
    pipeline.commit("results and the shared remote")
    subprocess.run(["git", "clone", "-q", str(pipeline.root), str(clone_root)], check=True)
    clone = ProjectCopy(clone_root)
    model = str(paths.detector_model("custom"))
    assert not (clone_root / model).exists()
    clone.run("dvc", "pull", "train@custom")
    assert (clone_root / paths.model_stats(paths.detector_model("custom"))).is_file()

    images = pipeline.root / "data/interim/generated/dcgan/test_unseen"
    first = pipeline.run("gandct", "predict", str(images), "--model", model).stdout
    second = clone.run("gandct", "predict", str(images), "--model", model).stdout
    assert first == second
    assert len(first.splitlines()) == 1 + len(list(images.iterdir()))


def test_tiny_params_are_valid_params():
    parse_params(deep_update(yaml.safe_load((REPO / "params.yaml").read_text()), TINY))


@pytest.mark.slow
def test_params_re_run_only_the_stages_whose_outputs_they_change(pipeline):
    """Runs last: it changes the pipeline's params and outputs."""
    for overrides in (
        {"features": {"workers": 1, "chunk_size": 7}},
        {"evaluate": {"batch_size": 17}},
        {"augment": {"checkpoint_seconds": 5.0}},
    ):
        pipeline.set_params(overrides)
        assert "Data and pipelines are up to date" in pipeline.run("dvc", "status").stdout, overrides
    # The DCGAN only feeds test_unseen: its features, evaluate and report re-run; no detector retrains.
    pipeline.set_params({"augment": {"dcgan": {"learning_rate": 0.0003}}})
    ran = pipeline.run("dvc", "repro").stdout
    stages = {line.split("'")[1] for line in ran.splitlines() if line.startswith("Running stage")}
    assert stages == {"dcgan", "quality", "features@test_unseen", "evaluate", "report"}, ran


@pytest.mark.slow
def test_an_experiment_trains_the_detectors_on_the_autogan_twins(pipeline):
    """After the test above: `dvc exp run -S` swaps the train and val fakes; the test split keeps the ProGAN's."""
    ran = pipeline.run("dvc", "exp", "run", "-S", "train.fakes=[autogan]").stdout
    stages = {line.split("'")[1] for line in ran.splitlines() if line.startswith("Running stage")}
    assert {"features@train", "features@val", "evaluate", "report"} | {f"train@{name}" for name in MODELS} <= stages
    assert "autogan" not in stages and "progan" not in stages
    for split in ("train", "val"):
        ids = read_csv(pipeline.root / paths.features_file(split, "ids.csv"))
        assert {row["generator"] for row in ids if row["label"] == "1"} == {"autogan"}
    test = read_csv(pipeline.root / paths.features_file("test", "ids.csv"))
    assert {row["generator"] for row in test if row["label"] == "1"} == {"progan"}
    assert "test_paired" in json.loads((pipeline.root / "reports/metrics.json").read_text())["paper"]
