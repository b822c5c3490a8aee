"""timed-repro: `dvc repro` with each stage's wall time recorded (`make all` runs it; not a stage).

DVC's output passes through as it comes. Each stage's time runs from its "Running stage" line to the next
stage's (or the end). When every stage of dvc.yaml ran and no GAN resumed from a checkpoint, the run is a full
one and `reports/run_timings.json` gets its record: minutes per stage and in all, the machine's reference
workload (`gandct.timing`, measured once before the run, as GMAC/s), the date and the commit. A partial run
(stages up to date, a resumed GAN, a failure) leaves the last full run's record as it was and says why, so the
times the README quotes always come from one whole run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterable

# imported here, not first inside the reference workload: TensorFlow's start-up notices then fall within the
# cli's quiet import of this module (gandct.cli.import_quietly)
import tensorflow  # noqa: F401

from gandct import paths
from gandct.entry import run_command
from gandct.errors import GandctError
from gandct.fileio import write_text
from gandct.logs import setup_logging
from gandct.timing import reference_workload

log = logging.getLogger(__name__)

RECORD = paths.REPORTS / "run_timings.json"
STAGE_LINE = re.compile(r"^Running stage '([^']+)'")
DVC = [sys.executable, "-m", "dvc"]  # the DVC of this environment, whatever PATH holds
RESUMED = re.compile(r": resuming from checkpoint")  # gandct.gan.trainer's line when a GAN resumes


def stage_seconds(lines: Iterable[str], clock: Callable[[], float] = time.monotonic) -> tuple[dict[str, float], bool]:
    """Echo `lines` (DVC's output) and time them: (seconds per stage that ran, whether a GAN resumed)."""
    seconds: dict[str, float] = {}
    current, started, resumed = None, clock(), False
    for line in lines:
        print(line, end="", flush=True)
        resumed = resumed or bool(RESUMED.search(line))
        found = STAGE_LINE.match(line)
        if found:
            now = clock()
            if current:
                seconds[current] = round(now - started, 1)
            current, started = found.group(1), now
    if current:
        seconds[current] = round(clock() - started, 1)
    return seconds, resumed


def declared_stages() -> set[str]:
    """Every stage of dvc.yaml as DVC names it, foreach items resolved from params.yaml (train@paper)."""
    listed = subprocess.run([*DVC, "stage", "list", "--name-only"], capture_output=True, text=True, check=True)
    return set(listed.stdout.split())


def main(argv: list[str] | None = None) -> None:
    """Run `dvc repro`, then write the record if it was a full run."""
    parser = argparse.ArgumentParser(prog="gandct timed-repro", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    setup_logging()
    workload = reference_workload()
    expected, began = declared_stages(), time.monotonic()
    with subprocess.Popen(
        [*DVC, "repro"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    ) as process:
        seconds, resumed = stage_seconds(process.stdout)
    total = round(time.monotonic() - began, 1)
    if process.returncode:
        raise GandctError(f"dvc repro failed (exit {process.returncode}); {RECORD} keeps the last full run's record")
    missing = sorted(expected - set(seconds))
    if missing or resumed:
        why = f"{len(missing)} stage(s) were up to date" if missing else "a GAN resumed from its checkpoint"
        log.info("not a full run (%s): %s keeps the last full run's record", why, RECORD)
        return
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    record = {
        "date": datetime.date.today().isoformat(),
        "commit": commit,
        "total_minutes": round(total / 60, 1),
        "reference_gmacs_per_second": round(workload["gmacs_per_second"], 1),
        "stage_minutes": {name: round(value / 60, 1) for name, value in sorted(seconds.items(), key=lambda x: -x[1])},
    }
    write_text(RECORD, json.dumps(record, indent=1) + "\n")
    log.info("full run: %.1f minutes; recorded in %s", total / 60, RECORD)


if __name__ == "__main__":
    run_command("timed-repro", main)
