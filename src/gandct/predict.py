"""predict: score new images with a trained detector, `gandct predict PATH... --model models/detectors/custom.keras`.

Each image goes through exactly the features stage's preprocessing, with the train statistics saved
beside the model (`models/detectors/<name>.dct_stats.npz`). Writes CSV rows `path, p_fake, logit, label,
error`: p_fake (float64, the sigmoid of the logit) and the logit (the model's float32 output) at full
precision, so scores rank and tie in the file exactly as they do in the model; `label` is fake when p_fake
reaches the model's own threshold, chosen on the val split and saved beside it (`<name>.threshold.json`), or
`--threshold`. A file that cannot be read gets a row with its error instead of stopping the run.
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import numpy as np

from gandct import paths
from gandct.cli import run_command
from gandct.dct import fit_image
from gandct.detector import Detector
from gandct.errors import GandctError
from gandct.fileio import atomic_path, expand_paths, output_problem
from gandct.images import ImageError, load_rgb
from gandct.logs import progress, setup_logging
from gandct.models import probabilities

log = logging.getLogger(__name__)

COLUMNS = ["path", "p_fake", "logit", "label", "error"]


def score(files: list[Path], detector: Detector, batch_size: int, threshold: float) -> Iterator[dict]:
    """One CSV row per file, in order: p_fake and its label at `threshold`, or the error that made the file
    unusable."""
    for start in range(0, len(files), batch_size):
        batch, errors, fitted = files[start : start + batch_size], {}, []
        for path in batch:
            try:
                fitted.append(fit_image(load_rgb(path), detector.stats.preprocessing))
            except ImageError as err:
                errors[path] = str(err)
        logits = iter(detector.logits_fitted(np.stack(fitted), batch_size) if fitted else ())
        for path in batch:
            if path in errors:
                yield {"path": str(path), "p_fake": "", "logit": "", "label": "", "error": errors[path]}
                continue
            logit = next(logits)
            probability = float(probabilities(logit))
            label = "fake" if probability >= threshold else "real"
            # repr and float32's str: the shortest text that reads back to the same number
            yield {"path": str(path), "p_fake": repr(probability), "logit": str(logit), "label": label, "error": ""}


def write_rows(rows: Iterator[dict], handle: TextIO, total: int) -> int:
    """Write CSV rows with a progress bar; return how many files could not be scored."""
    writer = csv.DictWriter(handle, fieldnames=COLUMNS)
    writer.writeheader()
    failed = 0
    for row in progress(rows, total=total, desc="predict", unit="img", disable=total < 100):
        writer.writerow(row)
        failed += bool(row["error"])
    return failed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="gandct predict", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="image files and folders (walked recursively)")
    parser.add_argument("--model", type=Path, default=paths.detector_model("custom"), help="a trained .keras detector")
    parser.add_argument("--out", type=Path, help="CSV file to write (default: standard output)")
    parser.add_argument("--batch-size", type=int, default=256, help="images scored at a time")
    parser.add_argument(
        "--threshold", type=float, help="call an image fake when p_fake >= this (default: the model's val-chosen one)"
    )
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        raise GandctError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.threshold is not None and not 0 <= args.threshold <= 1:  # also refuses nan
        raise GandctError(f"--threshold must be between 0 and 1, got {args.threshold}")
    if args.out is not None and (problem := output_problem(args.out, folder=False)):
        raise GandctError(f"--out: {problem}")
    setup_logging()
    detector = Detector.load(args.model)
    threshold = detector.threshold if args.threshold is None else args.threshold
    source = "the model's, chosen on the val split" if args.threshold is None else "--threshold"
    log.info("labels: fake when p_fake >= %.6g (%s)", threshold, source)
    files = expand_paths(args.paths)
    if not files:
        log.warning("no files found in %s: nothing to score", ", ".join(args.paths))
    rows = score(files, detector, args.batch_size, threshold)
    if args.out is None:
        failed = write_rows(rows, sys.stdout, len(files))
    else:
        try:
            with atomic_path(args.out) as tmp, tmp.open("w", newline="") as handle:
                failed = write_rows(rows, handle, len(files))
        except OSError as err:
            raise GandctError(f"--out: cannot write {args.out}: {err.strerror or err}") from None
    if failed:
        log.warning("%d of %d file(s) could not be scored; see the error column", failed, len(files))


if __name__ == "__main__":
    run_command("predict", main)
