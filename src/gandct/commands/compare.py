"""compare: the experiments' headline metrics as a table that fits the terminal, `gandct compare` (`make compare`).

`dvc exp show` gives one column per param and metric, so after `make quick`, which changes a dozen params, an
80-column terminal shows none of the numbers. This transposes it: one row per headline metric (every number of
`reports/metrics.json` and each generator's SWD `ratio_to_floor`), one column per experiment beside the commit
it was run from (numbered, named in a legend above), grouped under the detector or generator they belong to;
columns that do not fit the width continue in another table below. Under the tables, each experiment's params
that differ from its commit's.
Reads `dvc exp show --json` (or a file of it, `--json-file`); `dvc exp show` stays for the wide view.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from gandct import paths
from gandct.entry import run_command
from gandct.errors import GandctError

METRIC_FILES = (paths.METRICS.as_posix(), paths.GAN_QUALITY_METRICS.as_posix())
QUALITY_METRIC = "ratio_to_floor"  # the GANs' number in quality_metrics.json (the twins' PSNR stays out)
CELL = 10  # characters per experiment column, a space included


@dataclass(frozen=True)
class Run:
    """One row of `dvc exp show`: a commit (or the workspace) or an experiment run from one."""

    name: str
    params: dict[str, object]
    metrics: dict[str, float]
    parent: str | None  # the commit an experiment was run from


def flatten(tree: object, prefix: str = "") -> dict[str, object]:
    """{"a.b.c": leaf} of nested dicts; lists and other values are leaves."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    flat: dict[str, object] = {}
    for key, value in tree.items():
        flat |= flatten(value, f"{prefix}.{key}" if prefix else str(key))
    return flat


def headline_metrics(metric_files: dict) -> dict[str, float]:
    """Every number of reports/metrics.json and each generator's ratio_to_floor, as "group.rest" keys."""
    found: dict[str, float] = {}
    for path in METRIC_FILES:
        numbers = flatten((metric_files.get(path) or {}).get("data") or {})
        for key, value in numbers.items():
            keep = path == METRIC_FILES[0] or key.endswith("." + QUALITY_METRIC)
            if keep and isinstance(value, int | float) and not isinstance(value, bool):
                found[key] = float(value)
    return found


def run_of(entry: dict, name: str, parent: str | None) -> Run:
    """One experiment's row of `dvc exp show --json`: its params and headline metrics."""
    data = entry.get("data") or {}
    params = flatten((data.get("params") or {}).get("params.yaml", {}).get("data") or {})
    return Run(name, params, headline_metrics(data.get("metrics") or {}), parent)


def runs_of(shown: list[dict]) -> list[Run]:
    """The workspace, each commit and each of its experiments, in `dvc exp show --json`'s order."""
    runs = []
    for commit in shown:
        name = commit.get("name") or (commit["rev"] if commit["rev"] == "workspace" else commit["rev"][:7])
        runs.append(run_of(commit, name, None))
        for experiment in commit.get("experiments") or []:
            for rev in experiment.get("revs") or []:
                runs.append(run_of(rev, rev.get("name") or rev["rev"][:7], name))
    return runs


def cell(value: float | None) -> str:
    """A metric as the table shows it: 4 decimals, or 4 significant digits when large; - when missing."""
    return "-" if value is None else f"{value:.4f}" if abs(value) < 10 else f"{value:.4g}"


def metric_tables(runs: list[Run], width: int) -> list[str]:
    """The transposed tables: metric rows under their group, `CELL` characters per run, as many runs per table
    as fit in `width` (at least one)."""
    keys = sorted({key for run in runs for key in run.metrics}, key=lambda key: (key.split(".")[0], key))
    labels = []  # (text, key or None for a group heading)
    for key in keys:
        group, rest = key.split(".", 1) if "." in key else (key, "")
        if not any(text == group and heading is None for text, heading in labels):
            labels.append((group, None))
        labels.append(("  " + rest, key))
    label_width = max(len(text) for text, _ in labels) + 1
    per_table = max(1, (width - label_width) // CELL)
    tables = []
    for first in range(0, len(runs), per_table):
        chunk = runs[first : first + per_table]
        numbers = range(first + 1, first + len(chunk) + 1)  # the runs' numbers in the legend
        lines = ["metric".ljust(label_width) + "".join(f"[{number}]".rjust(CELL) for number in numbers)]
        for text, key in labels:
            values = "" if key is None else "".join(cell(run.metrics.get(key)).rjust(CELL) for run in chunk)
            lines.append(text.ljust(label_width) + values)
        tables.append("\n".join(line.rstrip() for line in lines))
    return tables


def changed_params(runs: list[Run], width: int) -> list[str]:
    """One wrapped line per experiment: the params whose value differs from its commit's."""
    by_name = {run.name: run for run in runs}
    lines = []
    for run in runs:
        base = by_name.get(run.parent) if run.parent else None
        if base is None:
            continue
        changed = [
            f"{key}={json.dumps(value, separators=(',', ':'))}"
            for key, value in run.params.items()
            if base.params.get(key) != value
        ]
        text = f"{run.name} (from {run.parent}): " + (", ".join(changed) or "no params changed")
        lines += textwrap.wrap(text, width, subsequent_indent="    ", break_on_hyphens=False)
    return lines


def render(shown: list[dict], width: int) -> str:
    """The whole comparison for `dvc exp show --json` output `shown`, at most `width` characters a line except
    where one name or value alone is longer."""
    runs = runs_of(shown)
    if not runs:
        raise GandctError("dvc exp show listed nothing to compare")
    legend = [
        f"[{number}] {run.name}" + (f" (experiment from {run.parent})" if run.parent else "")
        for number, run in enumerate(runs, 1)
    ]
    parts = [*legend, "", *("\n\n".join(metric_tables(runs, width)).splitlines())]
    params = changed_params(runs, width)
    parts += ["", "Changed params:", *params] if params else ["", "No experiments: run `make quick` or `dvc exp run`."]
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Print the experiments' headline metrics, one column per run."""
    parser = argparse.ArgumentParser(prog="gandct compare", description=__doc__.splitlines()[0])
    parser.add_argument("--json-file", help="read this saved `dvc exp show --json` output instead of running it")
    parser.add_argument("--width", type=int, help="line width (default: the terminal's, or COLUMNS)")
    args = parser.parse_args(argv)
    width = args.width or shutil.get_terminal_size((80, 24)).columns
    if width < 40:
        raise GandctError(f"--width must be at least 40, got {width}")
    if args.json_file:
        with open(args.json_file) as handle:
            shown = json.load(handle)
    else:
        beside_python = Path(sys.executable).with_name("dvc")  # the project's venv, when it is not on PATH
        dvc = shutil.which("dvc") or (str(beside_python) if beside_python.is_file() else None)
        if dvc is None:
            raise GandctError("dvc not found on PATH nor beside this Python; run `make requirements` first")
        result = subprocess.run([dvc, "exp", "show", "--json"], capture_output=True, text=True)
        if result.returncode != 0:
            raise GandctError(f"dvc exp show failed: {result.stderr.strip().splitlines()[-1:]}")
        shown = json.loads(result.stdout)
    print(render(shown, width), end="")


if __name__ == "__main__":
    run_command("compare", main)
