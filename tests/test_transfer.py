"""Leave-one-generator-out tables (`gandct transfer`): each source judged only on the sets it never saw, the
differences with their interval, and docs/generators.md showing what the committed runs give."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO

from gandct import paths
from gandct.commands import transfer
from gandct.errors import GandctError
from gandct.fileio import write_csv

IMAGES = 40  # per test set: 20 reals, then 20 fakes
SEEDS = 3


def write_run(root: Path, name: str, fakes: list[str], quality: dict[str, float]) -> None:
    """A run folder as the documented commands leave it; `quality` maps detector -> how far its fakes' scores
    sit above the reals' (0: chance). Like the committed runs, made before the third-party sets, it holds the
    scores of the generators built here only; the tables leave out the sets no run holds."""
    unseen = [
        test_set
        for test_set, gan in paths.SPLIT_GENERATOR.items()
        if gan not in fakes and test_set not in paths.THIRD_PARTY_SETS
    ]
    folder = root / name
    (folder / "scores").mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"train_fakes": fakes, "unseen_sets": unseen}))
    rng = np.random.default_rng(len(name))
    labels = np.repeat([0, 1], IMAGES // 2)
    columns = {
        f"{detector}_seed_{seed}": rng.uniform(size=IMAGES) + shift * labels
        for detector, shift in quality.items()
        for seed in range(SEEDS)
    }
    for test_set in unseen:
        rows = [
            {"id": f"img_{i}", "label": int(labels[i]), "generator": "", **{c: v[i] for c, v in columns.items()}}
            for i in range(IMAGES)
        ]
        write_csv(folder / "scores" / f"{test_set}.csv", ["id", "label", "generator", *columns], rows)


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    generators = list(paths.GENERATORS)
    write_run(tmp_path, "progan", ["progan"], {"paper": 0.0, "custom": 0.0})
    write_run(tmp_path, "twins", list(paths.AUTOGAN_GENERATORS), {"paper": 0.0, "custom": 0.3})
    for held_out in generators:  # all others: custom separates the classes, paper does not
        write_run(
            tmp_path, f"without_{held_out}", [g for g in generators if g != held_out], {"paper": 0.0, "custom": 2.0}
        )
    return tmp_path


def cells(table: str, row: str) -> list[str]:
    line = next(line for line in table.splitlines() if line.startswith(f"| {row} |"))
    return [cell.strip() for cell in line.strip("|").split("|")][1:]


def test_each_source_is_scored_only_on_the_generators_it_never_saw(runs):
    table = transfer.auc_table(transfer.read_runs(runs), ["paper", "custom"])
    # paper: all others | ProGAN alone | twins alone, then the same for custom
    progan_row, dcgan_row, nearest_row = cells(table, "progan"), cells(table, "dcgan"), cells(table, "nearest")
    assert progan_row[1] == "" and progan_row[2] != "" and nearest_row[2] == ""  # seen sources stay blank
    assert all(cell != "" for cell in dcgan_row)  # the DCGAN is unseen by all three sources
    assert float(dcgan_row[3]) == 1.0  # custom, all others: the fakes sit 2 above the reals' [0, 1) scores
    assert 0.3 < float(dcgan_row[1]) < 0.7  # paper, ProGAN alone: chance


def test_differences_carry_the_interval_and_the_mean_over_the_shared_held_out_sets(runs):
    table = transfer.difference_table(transfer.read_runs(runs), ["paper", "custom"], "progan")
    rows = re.findall(r"^\| (\w+) \|", table, flags=re.M)
    assert rows == ["dcgan", "nearest", "transposed", "bilinear", "pixel_shuffle", "mean"]  # not progan: seen
    for row in rows:
        custom = cells(table, row)[1]
        assert re.fullmatch(r"better \(\+0\.\d{3}, 95% CI \+0\.\d{3} to \+\d\.\d{3}\)", custom)
    assert cells(table, "mean")[0].startswith("no clear difference")  # paper: chance from both sources
    # Twins alone leave the ProGAN and the DCGAN unseen: only those two (and their mean) are compared.
    twins = transfer.difference_table(transfer.read_runs(runs), ["custom"], "twins")
    assert re.findall(r"^\| (\w+) \|", twins, flags=re.M) == ["progan", "dcgan", "mean"]


def test_a_run_folder_that_is_not_a_known_source_or_lacks_its_files_is_an_error(runs):
    (runs / "mixed").mkdir()
    with pytest.raises(GandctError, match=r"mixed/run\.json"):
        transfer.read_runs(runs)
    (runs / "mixed" / "run.json").write_text(json.dumps({"train_fakes": ["progan"], "unseen_sets": []}))
    with pytest.raises(GandctError, match="expected progan, twins or without_<generator>"):
        transfer.tables(transfer.read_runs(runs), ["custom"])


def test_the_command_prints_the_tables_and_writes_them_beside_the_runs(runs, capsys):
    transfer.main(["--runs", str(runs), "--detectors", "custom"])
    expected = transfer.tables(transfer.read_runs(runs), ["custom"])
    assert capsys.readouterr().out == expected == (runs / "tables.md").read_text()


def test_the_generators_doc_shows_the_tables_of_the_committed_runs():
    committed = REPO / transfer.RUNS_DIR
    assert committed.is_dir(), "reports/transfer/: the leave-one-generator-out runs of docs/generators.md"
    expected = transfer.tables(transfer.read_runs(committed), ["paper", "custom", "linear"])
    assert expected in (REPO / "docs/generators.md").read_text()
    assert expected == (committed / "tables.md").read_text(), "run `gandct transfer` to write tables.md again"
