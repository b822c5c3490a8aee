"""End to end: a real `dvc repro` of the whole pipeline in a temporary copy of the repository, tiny params;
then sharing the trained models through a DVC remote into a second clone."""

from __future__ import annotations

import json
import re
import subprocess

import numpy as np
import pytest
import yaml
from helpers import GIT_IDENTITY, REPO, TINY_AUGMENT, ProjectCopy, copy_project, deep_update, pipeline_env

from gandct import paths
from gandct.detector_names import SEEDLESS
from gandct.fileio import read_csv
from gandct.params import parse_params

TINY = {
    "data": {"patch_size": 32, "patches_per_photo": 3},
    "prepare": {"min_per_split": 2},
    **TINY_AUGMENT,
    "features": {"image_size": 16, "chunk_size": 32},
    "train": {
        # the attributors' three: every DVC path a detector takes; test_train trains all six for real
        "models": ["paper", "custom", "linear"],
        "seeds": [0, 1],
        "paper": {"epochs": 2, "batch_size": 16},
        "custom": {"epochs": 2, "batch_size": 16, "width": 4},
    },
    "attribute": {"seeds": [0, 1]},
    "evaluate": {
        "perturbations": {"jpeg": [75], "blur": [], "downscale": [], "noise": [5.0]},
        "bootstrap_resamples": 100,
    },
    "report": {"examples_per_class": 2, "smoothgrad_images": 8, "smooth_samples": 3},
}
MODELS = TINY["train"]["models"]
ATTRIBUTORS = ["paper", "custom", "linear"]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> ProjectCopy:
    """The repository copied, given tiny params and no lock, committed, and run once with `dvc repro`."""
    project = copy_project(tmp_path_factory.mktemp("pipeline"))
    project.set_params(TINY)
    # The committed lock holds the default run's stages, six detectors among them; the tiny run trains three and
    # DVC keeps a stage's lock entry when its foreach item goes, so the tiny run starts with no lock.
    (project.root / "dvc.lock").unlink()
    project.commit("tiny params")
    project.run("gandct", "timed-repro")  # make all: dvc repro, timed
    return project


@pytest.mark.slow
def test_every_declared_output_exists(pipeline):
    lock = yaml.safe_load((pipeline.root / "dvc.lock").read_text())
    stages = set(lock["stages"])
    assert stages == {"download", "prepare", "progan", "dcgan", "quality", "evaluate", "saliency", "report"} | {
        f"train@{name}" for name in MODELS
    } | {f"autogan@{family}" for family in paths.AUTOGAN_FAMILIES} | {
        f"features@{split}" for split in ("train", "val")
    } | {f"test_features@{split}" for split in paths.TEST_SETS} | {
        f"attribution_features@{split}" for split in paths.ATTRIBUTION_SPLITS
    } | {f"train_attribution@{name}" for name in ATTRIBUTORS} | {"evaluate_attribution"} | {
        f"third_party@{generator}" for generator in paths.THIRD_PARTY_GENERATORS
    }
    for name, stage in lock["stages"].items():
        for out in stage.get("outs", []):
            assert (pipeline.root / out["path"]).exists(), f"{name}: {out['path']}"
    for name in MODELS:
        summary = json.loads((pipeline.root / paths.train_summary(name)).read_text())
        assert list(summary["seeds"]) == (["0"] if name in SEEDLESS else ["0", "1"])
        for seed in summary["seeds"]:
            assert (pipeline.root / paths.model_threshold(paths.seed_model(name, int(seed)))).is_file()
        assert (pipeline.root / paths.model_threshold(paths.detector_model(name))).is_file()  # the seed ensemble
    attribution = json.loads((pipeline.root / paths.ATTRIBUTION_DETAIL).read_text())
    test_reals = sum(row["label"] == "0" for row in read_csv(pipeline.root / paths.features_file("test", "ids.csv")))
    assert attribution["classes"] == list(paths.SOURCES) and attribution["test_images"]["real"] == test_reals
    for name in ATTRIBUTORS:
        found = attribution["models"][name]
        assert list(found["seeds"]) == (["0"] if name in SEEDLESS else ["0", "1"])
        confusion = np.array(found["ensemble"]["confusion"])  # rows: the true source; every test image once
        assert confusion.sum(axis=1).tolist() == list(attribution["test_images"].values())
        assert found["ensemble"]["accuracy"] == round(np.trace(confusion) / confusion.sum(), 6)
        assert found["accuracy"]["low"] <= found["accuracy"]["mean"] <= found["accuracy"]["high"]
    timings = json.loads((pipeline.root / "reports/run_timings.json").read_text())  # a full run: every stage ran
    assert set(timings["stage_minutes"]) == stages and timings["reference_gmacs_per_second"] > 0
    assert sum(timings["stage_minutes"].values()) <= timings["total_minutes"] + 0.05 * len(stages)  # rounding
    report = (pipeline.root / "reports/report.md").read_text()
    assert "| custom (2) |" in report and "| custom - paper, ROC AUC |" in report and "## Reading" in report


@pytest.mark.slow
def test_dvc_reads_the_metrics_and_a_second_repro_changes_nothing(pipeline):
    shown = json.loads(pipeline.run("dvc", "metrics", "show", "--json").stdout)
    files = shown[""]["data"]
    # The detectors' headline numbers are DVC metrics; their training figures and the detail are plain files.
    # Only the headline is declared, so `dvc metrics show` reads at a glance: the detectors' and the generators'.
    assert set(files) == {"reports/metrics.json", "reports/augment/quality_metrics.json"}

    def numbers(tree: object) -> int:
        return sum(map(numbers, tree.values())) if isinstance(tree, dict) else 1

    assert numbers({path: found["data"] for path, found in files.items()}) <= 60
    quality = files["reports/augment/quality_metrics.json"]["data"]
    assert quality["progan"] == {"ratio_to_floor": pytest.approx(quality["progan"]["ratio_to_floor"])}
    assert set(quality["autogan_nearest"]) == {"psnr_median"}
    metrics = files["reports/metrics.json"]["data"]
    assert set(metrics) == {*MODELS, "custom_minus_paper"}
    assert metrics["custom"] == {
        "test": {"accuracy": metrics["custom"]["test"]["accuracy"], "roc_auc": metrics["custom"]["test"]["roc_auc"]},
        "unseen_mean": {"roc_auc": metrics["custom"]["unseen_mean"]["roc_auc"]},
        "third_party_mean": {"roc_auc": metrics["custom"]["third_party_mean"]["roc_auc"]},
        "jpeg_75": {"roc_auc": metrics["custom"]["jpeg_75"]["roc_auc"]},
    }
    assert set(metrics["custom_minus_paper"]) == {"test", "unseen_mean", "third_party_mean", "jpeg_75"}
    for interval in (by_set["roc_auc"] for by_set in metrics["custom_minus_paper"].values()):
        assert set(interval) == {"difference", "low", "high"} and interval["low"] <= interval["high"]
    detail = json.loads((pipeline.root / paths.EVALUATION_DETAIL).read_text())
    test = detail["detectors"]["paper"]["sets"]["test"]
    assert test["images"] == len(read_csv(pipeline.root / paths.features_file("test", "ids.csv")))
    assert metrics["paper"]["test"]["accuracy"] == test["seeds"]["accuracy"]["mean"]
    # The unseen mean is the mean over the generators no detector trained on: the DCGAN and every twin family.
    unseen = ["test_dcgan", *(f"test_autogan_{family}" for family in paths.AUTOGAN_FAMILIES)]
    assert detail["unseen_sets"] == unseen
    per_set = [detail["detectors"]["custom"]["sets"][name]["seeds"]["roc_auc"]["mean"] for name in unseen]
    assert metrics["custom"]["unseen_mean"]["roc_auc"] == pytest.approx(sum(per_set) / len(per_set), abs=1e-6)
    # The third-party sets: their own mean, never among the unseen sets built here.
    assert detail["third_party_sets"] == [f"test_{generator}" for generator in paths.THIRD_PARTY_GENERATORS]
    again = pipeline.run("dvc", "repro")
    assert "Data and pipelines are up to date." in again.stdout
    assert "Running stage" not in again.stdout


@pytest.mark.slow
def test_a_change_to_the_reports_text_re_runs_the_report_alone(pipeline):
    """The saliency stage owns the gradients: editing the report's Markdown code re-runs no model."""
    module = pipeline.root / "src/gandct/report_markdown.py"
    original = module.read_text()
    module.write_text(original + "\n# a reader's note\n")
    try:
        ran = pipeline.run("dvc", "repro").stdout
    finally:
        module.write_text(original)
    stages = {line.split("'")[1] for line in ran.splitlines() if line.startswith("Running stage")}
    assert stages == {"report"}, ran
    pipeline.run("dvc", "repro")  # back to the committed code


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

    images = pipeline.root / "data/interim/generated/dcgan/test"
    first = pipeline.run("gandct", "predict", str(images), "--model", model).stdout
    second = clone.run("gandct", "predict", str(images), "--model", model).stdout
    assert first == second
    assert len(first.splitlines()) == 1 + len(list(images.iterdir()))


def test_tiny_params_are_valid_params():
    parse_params(deep_update(yaml.safe_load((REPO / "params.yaml").read_text()), TINY))


def test_make_compare_knows_every_params_section():
    """A params section missing from COMPARE_PARAMS would silently vanish from `make compare`."""
    line = next(line for line in (REPO / "Makefile").read_text().splitlines() if line.startswith("COMPARE_PARAMS :="))
    pattern = re.compile(line.split(":=", 1)[1].strip())
    for section, value in yaml.safe_load((REPO / "params.yaml").read_text()).items():
        column = f"{section}.{next(iter(value))}" if isinstance(value, dict) else section
        assert pattern.fullmatch(column), f"{column} is not in the Makefile's COMPARE_PARAMS"


def headline_values(row: dict) -> dict[str, float]:
    """The headline metrics of one `dvc exp show --json` row that exist before and after reports/metrics.json
    is slimmed: each detector's clean-test accuracy and ROC AUC, its unseen-, third-party-mean and JPEG-75 ROC AUC (not
    the custom - paper interval, which `make compare` leaves to `dvc metrics show`: its columns would not fit)."""
    metrics = row["data"]["metrics"]["reports/metrics.json"]["data"]
    values = {}
    for model, sets in metrics.items():
        if "accuracy" not in sets["test"]:  # the interval of a comparison, not a detector
            continue
        values[f"{model}.test.accuracy"] = sets["test"]["accuracy"]
        for name in ("test", "unseen_mean", "third_party_mean", "jpeg_75"):
            values[f"{model}.{name}.roc_auc"] = sets[name]["roc_auc"]
    return values


@pytest.mark.slow
def test_an_experiment_on_the_nearest_twins_and_make_compare_showing_it(pipeline):
    """Runs second to last: it leaves the experiment in the workspace. `dvc exp run -S` swaps the train and val
    fakes for the nearest twins; the test split keeps the ProGAN's, which joins the unseen generators while the
    nearest twins leave them. `make compare` then shows the changed param and every changed headline metric."""
    pipeline.run("git", "add", "-A")  # the tiny run is the experiment's baseline
    pipeline.run("git", *GIT_IDENTITY, "commit", "--allow-empty", "-qm", "the tiny run")
    ran = pipeline.run("dvc", "exp", "run", "-S", "train.fakes=[autogan_nearest]").stdout
    stages = {line.split("'")[1] for line in ran.splitlines() if line.startswith("Running stage")}
    assert {"features@train", "features@val", "evaluate", "report"} | {f"train@{name}" for name in MODELS} <= stages
    assert not {stage for stage in stages if stage.startswith(("autogan", "progan", "test_features"))}, stages
    for split in ("train", "val"):
        ids = read_csv(pipeline.root / paths.features_file(split, "ids.csv"))
        assert {row["generator"] for row in ids if row["label"] == "1"} == {"autogan_nearest"}
    test = read_csv(pipeline.root / paths.features_file("test", "ids.csv"))
    assert {row["generator"] for row in test if row["label"] == "1"} == {"progan"}
    detail = json.loads((pipeline.root / paths.EVALUATION_DETAIL).read_text())
    others = [f"test_autogan_{family}" for family in paths.AUTOGAN_FAMILIES if family != "nearest"]
    assert detail["unseen_sets"] == ["test", "test_dcgan", *others]

    shown = json.loads(pipeline.run("dvc", "exp", "show", "--json").stdout)
    rows = [shown[0], shown[1], *(rev for exp in shown[1]["experiments"] for rev in exp["revs"])]
    values = [headline_values(row) for row in rows]
    changed = {name for name in values[0] if len({row.get(name) for row in values}) > 1}
    assert changed, values

    make = ["make", "--silent", "compare-wide", "INSTALLED="]  # INSTALLED=: the test's environment is installed
    env = {**pipeline_env(), "COLUMNS": "1000"}  # every detector's headline moves: many columns
    table = subprocess.run(make, cwd=pipeline.root, env=env, capture_output=True, text=True, check=True).stdout
    lines = table.splitlines()
    assert "…" not in table, table
    header = next(line for line in lines if "Experiment" in line)
    # The changed param and the changed headline metrics, in full; not the unchanged metrics nor the hashes.
    assert set(header.split()) == {"Experiment", "Created", "train.fakes", *changed}, table
    param_column = [line.split()[-1] for line in lines if "└── " in line or "├── " in line]  # the experiment's own row
    assert param_column == ["['autogan_nearest']"], table

    # make compare: every headline metric of every run, in full, in 80 columns
    narrow = ["make", "--silent", "compare", "INSTALLED="]
    env = {**pipeline_env(), "COLUMNS": "80"}
    table = subprocess.run(narrow, cwd=pipeline.root, env=env, capture_output=True, text=True, check=True).stdout
    assert max(len(line) for line in table.splitlines()) <= 80, table
    labels = {line.split()[0] for line in table.split("Changed params:")[0].splitlines() if line.startswith("  ")}
    assert {name.split(".", 1)[1] for name in values[0]} <= labels, table
    assert "train.fakes=" in table.split("Changed params:")[1], table


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
    # Under train.fakes [autogan_nearest] (the experiment above) the DCGAN feeds only test_dcgan: the train and val
    # features read its listing but come out the same, so its test features, evaluate and report re-run and no
    # detector retrains. (With the chunking the features ran with: merging the train statistics by another
    # chunking may move their last bit.)
    workers = yaml.safe_load((REPO / "params.yaml").read_text())["features"]["workers"]
    pipeline.set_params({"features": {"workers": workers, "chunk_size": TINY["features"]["chunk_size"]}})
    pipeline.set_params({"augment": {"dcgan": {"learning_rate": 0.0003}}})
    ran = pipeline.run("dvc", "repro").stdout
    stages = {line.split("'")[1] for line in ran.splitlines() if line.startswith("Running stage")}
    expected = {"dcgan", "quality", "features@train", "features@val", "test_features@test_dcgan", "evaluate", "report"}
    # the attributors learn the DCGAN's fakes: they retrain
    expected |= {f"attribution_features@{split}" for split in paths.ATTRIBUTION_SPLITS} | {"evaluate_attribution"}
    expected |= {f"train_attribution@{name}" for name in ATTRIBUTORS}
    assert stages == expected, ran
