"""What every stage that writes a generator's fakes writes beside them: the listing of the fakes (with the
manifest's columns, so the features stage reads them as it reads the photos) and the stage's timings."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path

from gandct import paths
from gandct.fileio import write_text
from gandct.timing import PhaseTimer, reference_workload

log = logging.getLogger(__name__)

COLUMNS = ["path", "label", "split", "group", "generator", "sha256"]


def listing_row(generator: str, split: str, path: Path, data: bytes, group: str) -> dict[str, str]:
    """The listing row of one written fake: its path, the split and group it belongs to, and the hash of `data`."""
    return {
        "path": path.as_posix(),
        "label": "fake",
        "split": split,
        "group": group,
        "generator": generator,
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def write_timings(generator: str, timer: PhaseTimer, training_phases: Mapping[str, float]) -> None:
    """Log and write the stage's phase times, the training phases' times and the reference workload."""
    with timer.phase("reference workload"):
        reference = reference_workload()
    for name, seconds in timer.seconds.items():
        log.info("time: %-20s %7.1f s", name, seconds)
    for name, seconds in training_phases.items():
        log.info("time: %s %-14s %7.1f s", generator, name, seconds)
    log.info("reference workload: %.3f s (%.1f GMAC/s)", reference["seconds"], reference["gmacs_per_second"])
    timings = {"seconds": timer.seconds, "training_phases": dict(training_phases), "reference_workload": reference}
    write_text(paths.gan_timings(generator), json.dumps(timings, indent=2) + "\n")
