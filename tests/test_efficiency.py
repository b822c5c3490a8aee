"""`gandct efficiency` on a small real feature cache: balanced seeded draws, one fit per draw, the test split
scored at the val threshold, the record and the figure."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import write_features, write_tiny_params

from gandct.commands import efficiency


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write_features(tmp_path)
    write_tiny_params(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_draw_takes_as_many_images_of_each_class_and_its_seed_fixes_it():
    labels = np.repeat([0, 1, 0, 1], 10)
    subset = efficiency.draw_subset(labels, 4, [42, 4, 0])
    assert list(subset) == sorted(subset) and len(set(subset)) == 8
    assert np.bincount(labels[subset]).tolist() == [4, 4]
    assert list(efficiency.draw_subset(labels, 4, [42, 4, 0])) == list(subset)
    assert list(efficiency.draw_subset(labels, 4, [42, 4, 1])) != list(subset)
    with pytest.raises(ValueError, match="21 images per class asked, the train split has 20 of class 0"):
        efficiency.draw_subset(labels, 21, [42, 21, 0])


def test_each_detector_is_fitted_per_draw_and_scored_on_the_test_split(workdir):
    efficiency.main(["--sizes", "8", "4", "--draws", "2", "--models", "linear", "dzanic", "paper"])
    record = json.loads((workdir / efficiency.EFFICIENCY).read_text())
    assert record["images_per_class"] == {"4": 4, "8": 8, "all": 80}  # the tiny cache: 80 train images per class
    assert list(record["detectors"]) == ["linear", "dzanic", "paper"]
    for by_size in record["detectors"].values():
        assert list(by_size) == ["4", "8", "all"]
        assert [len(by_size[size]) for size in by_size] == [2, 2, 1]
        for entries in by_size.values():
            for entry in entries:
                assert 0 <= entry["accuracy"] <= 1 and 0 <= entry["roc_auc"] <= 1
    # Two draws of one size are two different fits; the whole split separates the tiny cache's classes.
    linear = record["detectors"]["linear"]
    assert linear["8"][0] != linear["8"][1]
    assert linear["all"][0]["roc_auc"] > 0.9
    assert (workdir / efficiency.FIGURE).stat().st_size > 10_000


def test_unknown_detectors_and_empty_sizes_stop_before_any_fit(workdir, capsys):
    for argv, message in (
        (["--models", "paper", "resnet"], "--models: unknown resnet"),
        (["--sizes", "0"], "--sizes and --draws must be at least 1"),
    ):
        with pytest.raises(SystemExit):
            efficiency.main(argv)
        assert message in capsys.readouterr().err
    assert not (workdir / efficiency.EFFICIENCY).exists()
