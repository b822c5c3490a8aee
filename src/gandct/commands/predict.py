"""predict: score new images with a trained detector, `gandct predict PATH... [--model custom]`.

Without `--model`, the detector shipped inside the package scores (`custom`, the default run's seed ensemble;
`--model paper` the other shipped one, `--model models/detectors/custom.keras` a run's own); the log names the
model file used. Each image goes through exactly the features stage's preprocessing, with the train statistics
saved beside the model (`<name>.dct_stats.npz`). A user asks about the whole image, so by default every tile of
the model's input size at native resolution is scored (non-overlapping from the top-left, plus the tiles flush
with the right and bottom borders), summarised by their mean and maximum p_fake and their count; `--view
trained` scores only the view the model was trained on (`features.crop`: the central square at native
resolution, or the whole image resized). A model trained on whole images resized (`features.crop: resize`)
scores that view by default, as tiles at native resolution are not what it learned.

Writes CSV rows `path, view, tiles, p_fake, logit, p_fake_max, label, error`: p_fake (float64, the sigmoid of
the logit; with tiles the mean over tiles, and logit its logit) and the logit at full precision, so scores rank
and tie in the file exactly as they do in the model; `label` is fake when p_fake reaches the model's own
threshold, chosen on the val split and saved beside it (`<name>.threshold.json`), or `--threshold`. A file
that cannot be read gets a row with its error instead of stopping the run.

With an attributor (`--model models/attributors/custom.keras`) the rows are `path, view, tiles, source,
p_<source>..., error`: the likeliest source and the probability of each (with tiles, their mean over tiles).
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
from scipy import special

from gandct.dct import frame_image
from gandct.detector import SHIPPED, Detector, model_file
from gandct.entry import run_command
from gandct.errors import GandctError
from gandct.fileio import atomic_path, expand_paths, output_problem
from gandct.images import ImageError, load_rgb
from gandct.logs import progress, setup_logging
from gandct.models import probabilities

log = logging.getLogger(__name__)

COLUMNS = ["path", "view", "tiles", "p_fake", "logit", "p_fake_max", "label", "error"]


def tile_origins(length: int, size: int) -> list[int]:
    """Where the tiles of `size` start along a side of `length`: every `size` from 0, plus one flush with the
    far border when `size` does not divide `length`; none when the side is shorter than a tile."""
    origins = list(range(0, length - size + 1, size))
    return [*origins, length - size] if origins and origins[-1] + size < length else origins


def tiles_of(rgb: np.ndarray, size: int) -> list[np.ndarray]:
    """Every tile of `size` x `size` at native resolution (`tile_origins` along both sides), row by row."""
    height, width = rgb.shape[:2]
    if height < size or width < size:
        raise ImageError(f"{width}x{height} is smaller than one {size}x{size} tile")
    return [
        rgb[top : top + size, left : left + size]
        for top in tile_origins(height, size)
        for left in tile_origins(width, size)
    ]


def framed_batches(
    files: list[Path], detector: Detector, batch_size: int, tiles: bool
) -> Iterator[tuple[list[Path], dict[Path, str], dict[Path, int], np.ndarray]]:
    """Per batch of `files`: the files, the error of each unusable one, the number of views (1, or its tiles)
    of each usable one, and those views framed, in file order."""
    preprocessing = detector.stats.preprocessing
    for start in range(0, len(files), batch_size):
        batch, errors, framed, counts = files[start : start + batch_size], {}, [], {}
        for path in batch:
            try:
                rgb = load_rgb(path)
                parts = tiles_of(rgb, preprocessing.image_size) if tiles else [rgb]
                framed += [frame_image(part, preprocessing) for part in parts]
                counts[path] = len(parts)
            except ImageError as err:
                errors[path] = str(err)
        yield batch, errors, counts, np.stack(framed) if framed else np.empty((0, *preprocessing.shape), np.uint8)


def detection_row(part_logits: np.ndarray, threshold: float) -> dict:
    """A detector's columns of one file from the logits of its views (one, or its tiles)."""
    p_fake = probabilities(part_logits)
    mean = float(p_fake.mean())
    # one view: the model's own float32 logit; tiles: the logit of the mean p_fake
    logit = str(part_logits[0]) if len(part_logits) == 1 else repr(float(special.logit(mean)))
    return {
        "p_fake": repr(mean),  # repr: the shortest text that reads back to the same float64
        "logit": logit,
        "p_fake_max": repr(float(p_fake.max())),
        "label": "fake" if mean >= threshold else "real",
    }


def attribution_row(part_probabilities: np.ndarray, classes: tuple[str, ...]) -> dict:
    """An attributor's columns of one file: the likeliest source and each source's probability (mean over views)."""
    mean = part_probabilities.mean(axis=0)
    each = {f"p_{name}": repr(float(p)) for name, p in zip(classes, mean, strict=True)}
    return {"source": classes[int(mean.argmax())], **each}


def columns(detector: Detector) -> list[str]:
    """The CSV columns for `detector`: a detector's score and label, or an attributor's source and probabilities."""
    if detector.is_attributor:
        return ["path", "view", "tiles", "source", *(f"p_{name}" for name in detector.classes), "error"]
    return COLUMNS


def default_view(detector: Detector) -> str:
    """`tiles` for a model trained on crops at native resolution, else `trained` (its resized whole images)."""
    return "tiles" if detector.stats.preprocessing.crop == "center" else "trained"


def score(
    files: list[Path], detector: Detector, batch_size: int, threshold: float | None, tiles: bool = False
) -> Iterator[dict]:
    """One CSV row per file, in order: its score and label at `threshold` (the trained view, or the mean and
    maximum over its tiles), its source for an attributor, or the error that made the file unusable."""
    view = "tiles" if tiles else detector.stats.preprocessing.crop
    empty = dict.fromkeys(columns(detector)[3:-1], "")
    for batch, errors, counts, framed in framed_batches(files, detector, batch_size, tiles):
        if detector.is_attributor:
            scores = iter(detector.predict_sources_framed(framed, batch_size))
        else:
            scores = iter(detector.logits_framed(framed, batch_size))
        for path in batch:
            row = {"path": str(path), "view": view}
            if path in errors:
                yield row | {"tiles": ""} | empty | {"error": errors[path]}
                continue
            parts = np.array([next(scores) for _ in range(counts[path])])
            found = (
                attribution_row(parts, detector.classes) if detector.is_attributor else detection_row(parts, threshold)
            )
            yield row | {"tiles": len(parts)} | found | {"error": ""}


def write_rows(rows: Iterator[dict], handle: TextIO, total: int, fieldnames: list[str]) -> int:
    """Write CSV rows with a progress bar; return how many files could not be scored."""
    writer = csv.DictWriter(handle, fieldnames=fieldnames)
    writer.writeheader()
    failed = 0
    for row in progress(rows, total=total, desc="predict", unit="img", disable=total < 100):
        writer.writerow(row)
        failed += bool(row["error"])
    return failed


def main(argv: list[str] | None = None) -> None:
    """Score the images given and write one CSV row per file."""
    parser = argparse.ArgumentParser(prog="gandct predict", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="image files and folders (walked recursively)")
    parser.add_argument(
        "--model",
        default="custom",
        help="a detector shipped inside the package (custom, paper) or a trained .keras file (default: custom)",
    )
    parser.add_argument("--out", type=Path, help="CSV file to write (default: standard output)")
    parser.add_argument("--batch-size", type=int, default=256, help="images scored at a time")
    parser.add_argument(
        "--threshold", type=float, help="call an image fake when p_fake >= this (default: the model's val-chosen one)"
    )
    parser.add_argument(
        "--view",
        choices=("tiles", "trained"),
        help="tiles: every tile of the model's input size at native resolution (mean and max p_fake); trained: "
        "only the view the model was trained on, e.g. the central crop (default: tiles, unless the model was "
        "trained on whole images resized)",
    )
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        raise GandctError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.threshold is not None and not 0 <= args.threshold <= 1:  # also refuses nan
        raise GandctError(f"--threshold must be between 0 and 1, got {args.threshold}")
    if args.out is not None and (problem := output_problem(args.out, folder=False)):
        raise GandctError(f"--out: {problem}")
    setup_logging()
    model = model_file(args.model)
    detector = Detector.load(model)
    view = args.view or default_view(detector)
    origin = "shipped inside the package" if args.model in SHIPPED else "a trained model file"
    log.info("model: %s (%s); view: %s", model, origin, view)
    threshold = detector.threshold if args.threshold is None else args.threshold
    if detector.is_attributor:
        if args.threshold is not None:
            raise GandctError(f"--threshold: {args.model} is an attributor, which names the likeliest source")
        log.info("sources: %s (the likeliest is the source column)", ", ".join(detector.classes))
    else:
        source = "the model's, chosen on the val split" if args.threshold is None else "--threshold"
        log.info("labels: fake when p_fake >= %.6g (%s)", threshold, source)
    files = expand_paths(args.paths)
    if not files:
        log.warning("no files found in %s: nothing to score", ", ".join(args.paths))
    rows = score(files, detector, args.batch_size, threshold, view == "tiles")
    if args.out is None:
        failed = write_rows(rows, sys.stdout, len(files), columns(detector))
    else:
        try:
            with atomic_path(args.out) as tmp, tmp.open("w", newline="") as handle:
                failed = write_rows(rows, handle, len(files), columns(detector))
        except OSError as err:
            raise GandctError(f"--out: cannot write {args.out}: {err.strerror or err}") from None
    if failed:
        log.warning("%d of %d file(s) could not be scored; see the error column", failed, len(files))


if __name__ == "__main__":
    run_command("predict", main)
