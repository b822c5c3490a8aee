"""transfer: which training source carries over to generators a detector never saw, asked leave one generator
out (after Wang et al. 2020). `gandct transfer` prints the tables of docs/generators.md and writes them to
`reports/transfer/tables.md` (beside the runs), the file the docs quote.

Each run under `reports/transfer/<run>/` is the pipeline trained on one `train.fakes` (docs/generators.md gives
the commands): `run.json` holds its `train_fakes` and evaluate's `unseen_sets`, and `scores/<test set>.csv`
evaluate's scores of those sets. The run `progan` trains on the ProGAN alone (the default), `twins` on the four
twin families, and `without_<generator>` on every generator but one. A source is judged only on sets it never
saw; a difference of two sources comes with `comparison.paired_bootstrap`'s interval, which draws the training
seeds of each run and the test images, so it counts what a re-run would change.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from gandct import paths
from gandct.comparison import describe, paired_bootstrap, paired_bootstrap_sets
from gandct.entry import run_command
from gandct.errors import GandctError
from gandct.fileio import read_csv, write_text

RUNS_DIR = paths.REPORTS / "transfer"
BASELINES = {"progan": "ProGAN alone", "twins": "twins alone"}  # run -> column title; then every other generator
LEAVE_ONE_OUT = "all others"  # the column of the without_<generator> runs
SEED_COLUMN = "_seed_"  # evaluate's score columns: <detector>_seed_<s>
BOOTSTRAP_SEED = 42


@dataclass(frozen=True)
class SourceRun:
    """One training source's run: its unseen test sets' labels and every detector's scores, (seeds, images)."""

    name: str
    fakes: list[str]
    labels: dict[str, np.ndarray]
    scores: dict[str, dict[str, np.ndarray]]  # test set -> detector -> p_fake per seed and image


def read_scores(path: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The labels and each detector's per-seed scores of one of evaluate's score files."""
    rows = read_csv(path)
    if not rows:
        raise GandctError(f"{path} holds no scores")
    columns: dict[str, list[str]] = {}
    for column in rows[0]:
        if SEED_COLUMN in column:
            columns.setdefault(column.split(SEED_COLUMN)[0], []).append(column)
    labels = np.array([float(row["label"]) for row in rows])
    return labels, {name: np.array([[float(row[c]) for row in rows] for c in cols]) for name, cols in columns.items()}


def read_run(folder: Path) -> SourceRun:
    """The run kept in `folder`: run.json and the scores of each of its unseen sets."""
    try:
        meta = json.loads((folder / "run.json").read_text())
        fakes, unseen = list(meta["train_fakes"]), list(meta["unseen_sets"])
    except (OSError, ValueError, KeyError) as err:
        raise GandctError(f"{folder}/run.json: {err}") from None
    labels, scores = {}, {}
    for test_set in unseen:
        labels[test_set], scores[test_set] = read_scores(folder / "scores" / f"{test_set}.csv")
    return SourceRun(folder.name, fakes, labels, scores)


def read_runs(root: Path = RUNS_DIR) -> list[SourceRun]:
    """Every run under `root`, in folder-name order."""
    runs = [read_run(folder) for folder in sorted(root.iterdir()) if folder.is_dir()]
    if not runs:
        raise GandctError(f"{root} holds no run; docs/generators.md says how to make them")
    return runs


def source_of(run: SourceRun) -> str:
    """The column a run belongs to: a baseline's title, or LEAVE_ONE_OUT."""
    if run.name in BASELINES:
        return BASELINES[run.name]
    if run.name.startswith("without_"):
        return LEAVE_ONE_OUT
    raise GandctError(f"{RUNS_DIR / run.name}: expected progan, twins or without_<generator>")


def seed_mean_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC of each seed's scores (seeds, images), averaged over the seeds."""
    return float(np.mean([roc_auc_score(labels, row) for row in scores]))


def by_source(runs: list[SourceRun]) -> dict[str, dict[str, SourceRun]]:
    """{column: {unseen test set: the run that left it unseen}}, the baselines first."""
    columns: dict[str, dict[str, SourceRun]] = {title: {} for title in (LEAVE_ONE_OUT, *BASELINES.values())}
    for run in runs:
        column = columns[source_of(run)]
        for test_set in run.labels:
            column[test_set] = run
    return columns


def set_title(test_set: str) -> str:
    """A test set's column title: its generator, the family alone for a twin generator."""
    return paths.SPLIT_GENERATOR[test_set].removeprefix("autogan_")


def auc_table(runs: list[SourceRun], detectors: list[str]) -> str:
    """Seed-mean ROC AUC of each detector on each held-out generator, one column per training source."""
    columns = by_source(runs)
    header = ["held-out generator"] + [f"{name}: {title}" for name in detectors for title in columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    # The sets some run was scored on: a run kept from before a test set existed has no column for it.
    for test_set in [s for s in paths.TEST_SETS if any(s in held_out for held_out in columns.values())]:
        cells = [set_title(test_set)]
        for name in detectors:
            for held_out in columns.values():
                run = held_out.get(test_set)
                cells.append(f"{seed_mean_auc(run.labels[test_set], run.scores[test_set][name]):.3f}" if run else "")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def difference_table(runs: list[SourceRun], detectors: list[str], baseline: str) -> str:
    """ROC AUC of training on all other generators minus training on `baseline`, per held-out generator both
    leave out and their mean, with the interval over both runs' seeds and the test images."""
    columns = by_source(runs)
    others, base = columns[LEAVE_ONE_OUT], columns[BASELINES[baseline]]
    shared = [test_set for test_set in paths.TEST_SETS if test_set in others and test_set in base]
    if not shared:
        return f"(no held-out generator that both all others and {BASELINES[baseline]} leave out)"
    lines = ["| held-out generator | " + " | ".join(detectors) + " |", "|---|" + "---|" * len(detectors)]
    for test_set in shared:
        cells = [
            describe(
                paired_bootstrap(
                    others[test_set].labels[test_set],
                    others[test_set].scores[test_set][name],
                    base[test_set].scores[test_set][name],
                    "roc_auc",
                    seed=BOOTSTRAP_SEED,
                )
            )
            for name in detectors
        ]
        lines.append(f"| {set_title(test_set)} | " + " | ".join(cells) + " |")
    if len(shared) == 1:
        return "\n".join(lines)
    means = [
        describe(
            paired_bootstrap_sets(
                [(others[s].labels[s], others[s].scores[s][name], base[s].scores[s][name]) for s in shared],
                "roc_auc",
                seed=BOOTSTRAP_SEED,
            )
        )
        for name in detectors
    ]
    lines.append("| mean | " + " | ".join(means) + " |")
    return "\n".join(lines)


def tables(runs: list[SourceRun], detectors: list[str]) -> str:
    """The markdown of docs/generators.md's leave-one-generator-out section."""
    parts = ["ROC AUC on the held-out generator (seed mean):", auc_table(runs, detectors)]
    for baseline, title in BASELINES.items():
        parts += [f"All others minus {title} (ROC AUC, 95% interval):", difference_table(runs, detectors, baseline)]
    return "\n\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Print the leave-one-generator-out tables of the runs under reports/transfer/, and write them beside the runs."""
    parser = argparse.ArgumentParser(prog="gandct transfer", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=RUNS_DIR, help="the folder of runs (default %(default)s)")
    parser.add_argument("--detectors", nargs="+", default=["paper", "custom", "linear"])
    args = parser.parse_args(argv)
    text = tables(read_runs(args.runs), args.detectors)
    write_text(args.runs / "tables.md", text)
    print(text, end="")


if __name__ == "__main__":
    run_command("transfer", main)
