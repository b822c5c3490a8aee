"""`gandct compare` on real `dvc exp show --json` output: a small DVC project whose one stage writes the
pipeline's two metric files from its params, run as several experiments that change many params, as
`make quick` does."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import pipeline_env

from gandct.commands import compare

# Writes reports/metrics.json and reports/augment/quality_metrics.json shaped as the evaluate and quality stages do.
WRITE_METRICS = """
import json, pathlib, yaml
p = yaml.safe_load(open("params.yaml"))
shift = p["train"]["epochs"] / 100 + p["seed"] / 1000
numbers = {name: {"test": {"accuracy": 0.9 + shift, "roc_auc": 0.95 + shift},
                  "unseen_mean": {"roc_auc": 0.8 + shift}, "jpeg_75": {"roc_auc": 0.85 + shift}}
           for name in ("paper", "custom", "linear", "paper_pixel")}
numbers["custom_minus_paper"] = {s: {"roc_auc": {"difference": shift, "low": -0.01, "high": 0.03}}
                                 for s in ("test", "unseen_mean", "jpeg_75")}
pathlib.Path("reports/augment").mkdir(parents=True, exist_ok=True)
pathlib.Path("reports/metrics.json").write_text(json.dumps(numbers))
quality = {g: {"ratio_to_floor": 3.0 + shift} for g in ("progan", "dcgan")}
quality["autogan_nearest"] = {"psnr_median": 32.0 + shift}
pathlib.Path("reports/augment/quality_metrics.json").write_text(json.dumps(quality))
"""
PARAMS = {
    "seed": 42,
    "augment": {"first_look": False, "progan": {"channels": [128, 64, 32], "stable_images": [100, 200, 300]}},
    "quality": {"images_per_set": 1000},
    "train": {"epochs": 12, "seeds": [0, 1, 2, 3, 4, 5, 6, 7]},
    "report": {"smoothgrad_images": 128, "smooth_samples": 20},
}
QUICK = [
    "augment.first_look=true",
    "augment.progan.channels=[64,32,16]",
    "augment.progan.stable_images=[10,20,30]",
    "quality.images_per_set=300",
    "train.epochs=5",
    "train.seeds=[0]",
    "report.smoothgrad_images=16",
    "report.smooth_samples=5",
]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git + DVC project with the metric-writing stage, committed, then two experiments."""
    root = tmp_path_factory.mktemp("experiments")
    (root / "write_metrics.py").write_text(WRITE_METRICS)
    (root / "params.yaml").write_text(yaml.safe_dump(PARAMS))
    stage = {
        "cmd": f"{sys.executable} write_metrics.py",
        "deps": ["write_metrics.py"],
        "params": ["seed", "augment", "quality", "train", "report"],
        "metrics": [
            {"reports/metrics.json": {"cache": False}},
            {"reports/augment/quality_metrics.json": {"cache": False}},
        ],
    }
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"results": stage}}))

    def run(*command: str) -> None:
        subprocess.run(command, cwd=root, env=pipeline_env(), check=True, capture_output=True, text=True)

    run("git", "init", "-q")
    run("git", "config", "user.email", "test@example.com")
    run("git", "config", "user.name", "test")
    run("dvc", "init", "-q")
    run("dvc", "repro")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "baseline")
    # --temp, as make quick runs: each experiment starts from the commit and the workspace stays as it is
    run("dvc", "exp", "run", "--temp", "--name", "quick-20261203-101500", *(arg for s in QUICK for arg in ("-S", s)))
    run("dvc", "exp", "run", "--temp", "--name", "seed-7", "-S", "seed=7")
    return root


def gandct_compare(project: Path, columns: int) -> str:
    result = subprocess.run(
        ["gandct", "compare"],
        cwd=project,
        env=pipeline_env() | {"COLUMNS": str(columns)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_every_headline_metric_of_every_experiment_fits_80_columns(project):
    text = gandct_compare(project, 80)
    lines = text.splitlines()
    assert max(map(len, lines)) <= 80
    shown = json.loads(
        subprocess.run(["dvc", "exp", "show", "--json"], cwd=project, env=pipeline_env(), capture_output=True).stdout
    )
    runs = compare.runs_of(shown)
    names = [run.name for run in runs]  # the workspace, the commit (its branch), its two experiments
    assert len(names) == 4 and names[0] == "workspace" and {"seed-7", "quick-20261203-101500"} <= set(names)
    # 4 detectors x 4 metrics, 3 intervals x 3 bounds, 2 GANs' ratios to the floor (a twin's PSNR stays out):
    # every one a row, every run a column
    assert all(len(run.metrics) == 4 * 4 + 3 * 3 + 2 for run in runs)
    for run in runs:
        assert f"] {run.name}" in text
    tables = text.split("Changed params:")[0].splitlines()
    metric_rows = {line.split()[0]: line.split()[1:] for line in tables if line.startswith("  ")}
    assert set(metric_rows) == {key.split(".", 1)[1] for key in runs[0].metrics}
    quick = next(run for run in runs if run.name.startswith("quick"))
    column = [run.name for run in runs].index(quick.name)
    assert metric_rows["unseen_mean.roc_auc"][column] == compare.cell(quick.metrics["paper.unseen_mean.roc_auc"])
    # the params the quick experiment changed, listed in full under the tables
    changed = text.split("Changed params:")[1]
    for setting in ("augment.first_look=true", "train.seeds=[0]", "quality.images_per_set=300"):
        assert setting in changed.replace("\n    ", " ")
    assert re.search(r"^seed-7 \(from \w+\): seed=7$", changed, re.MULTILINE)  # nothing else changed there
    workspace, commit = runs[0], runs[1]
    assert workspace.metrics == commit.metrics != quick.metrics


def test_a_narrow_terminal_continues_the_columns_in_another_table(project):
    text = gandct_compare(project, 50)
    assert max(map(len, text.splitlines())) <= 50
    assert text.count("metric ") == 4  # one run per table beside the 33-character names in 50 columns
