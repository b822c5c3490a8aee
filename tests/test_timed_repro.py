"""`gandct timed-repro` (make all): each stage's wall time from DVC's output, kept only for a full run. The whole
command runs in the tiny end-to-end run (tests/test_pipeline.py)."""

from __future__ import annotations

import itertools

import yaml
from helpers import REPO

from gandct.commands import timed_repro


def test_each_stage_is_timed_from_its_line_to_the_next_and_a_resume_is_seen(capsys):
    lines = [
        "Running stage 'download':\n",
        "> gandct download\n",
        "Running stage 'progan':\n",
        "progan: resuming from checkpoint: step 900 (8x8 fade)\n",
        "Updating lock file 'dvc.lock'\n",
    ]
    clock = itertools.count(start=10.0, step=2.5).__next__  # start, then once per stage line and at the end
    seconds, resumed = timed_repro.stage_seconds(lines, clock)
    assert seconds == {"download": 2.5, "progan": 2.5} and resumed
    assert capsys.readouterr().out == "".join(lines)  # DVC's output passes through unchanged
    assert timed_repro.stage_seconds(lines[:3], clock)[1] is False


def test_the_declared_stages_are_those_a_full_repro_locks(monkeypatch):
    monkeypatch.chdir(REPO)
    locked = set(yaml.safe_load((REPO / "dvc.lock").read_text())["stages"])  # the committed full run's
    assert timed_repro.declared_stages() == locked
    assert {"train@custom", "third_party@srgan", "report"} <= locked
