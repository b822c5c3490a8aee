"""prepare stage: decode every raw file, reject the unusable ones with their reason, keep duplicates once,
and split by group into train / val / test.

Writes `data/interim/manifest.csv` (path, label, split, group, generator, sha256, stratum, format) and
`data/interim/rejected.csv` (path, reason). A group (a source photo, or a file) never spans two splits; each
stratum (files.csv's photo kind: scene, texture, science) is split on its own, so every split gets its share of
each. `format` is the encoding the pixels were first stored in (files.csv's, else the file's own): the
evaluate stage asks whether detectors flag JPEG-born photos more often than PNG-born ones.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
from collections import Counter
from dataclasses import dataclass

import numpy as np

from gandct import paths
from gandct.entry import run_command
from gandct.errors import GandctError
from gandct.fileio import read_csv, write_csv
from gandct.images import ImageError, decode_rgb, file_format, read_file
from gandct.logs import progress, setup_logging
from gandct.params import Params, SplitFractions, load_params
from gandct.workers import stop_cleanly_on_signals, worker_pool

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
MANIFEST_COLUMNS = ["path", "label", "split", "group", "generator", "sha256", "stratum", "format"]
REJECTED_COLUMNS = ["path", "reason"]
# Files per job: large enough that sending a job costs little beside decoding its files.
CHUNK_SIZE = 64


@dataclass(frozen=True)
class CheckedFile:
    path: str
    label: str
    group: str
    generator: str
    stratum: str
    format: str = ""  # jpeg, png or other: files.csv's where it names one, else the file's own
    sha256: str = ""  # of the file's bytes
    pixels_sha256: str = ""  # of the decoded RGB array and its shape
    reason: str = ""  # why the file is unusable; empty when it is fine


def check_file(path: str, row: dict[str, str], min_size: int) -> CheckedFile:
    """Decode one file with the project's decoder and say whether it is usable."""
    base = CheckedFile(
        path, row["label"], row["group"], row["generator"], row.get("stratum", ""), row.get("format", "")
    )
    try:
        data = read_file(path)
    except ImageError as err:
        return CheckedFile(**{**base.__dict__, "reason": str(err)})
    digest = hashlib.sha256(data).hexdigest()
    base = CheckedFile(**{**base.__dict__, "format": base.format or file_format(data)})
    try:
        rgb = decode_rgb(data)
    except ImageError as err:
        return CheckedFile(**{**base.__dict__, "sha256": digest, "reason": str(err)})
    height, width = rgb.shape[:2]
    if min(height, width) < min_size:
        reason = f"too small: {width}x{height} < prepare.min_size={min_size}"
        return CheckedFile(**{**base.__dict__, "sha256": digest, "reason": reason})
    pixels = hashlib.sha256(np.asarray(rgb.shape).tobytes() + rgb.tobytes()).hexdigest()
    return CheckedFile(**{**base.__dict__, "sha256": digest, "pixels_sha256": pixels})


@dataclass(frozen=True)
class CheckJob:
    """Check a chunk of listed files (path, files.csv row) in one worker process."""

    files: tuple[tuple[str, dict[str, str]], ...]
    min_size: int


def run_check(job: CheckJob) -> list[CheckedFile]:
    """Run one job (a module-level function, so that worker processes can receive it)."""
    return [check_file(path, row, job.min_size) for path, row in job.files]


def drop_unusable(checked: list[CheckedFile]) -> tuple[list[CheckedFile], list[dict[str, str]]]:
    """Split files into usable ones and rejected rows; the first of identical files (by path) is kept."""
    kept, rejected = [], []
    first_by_bytes: dict[str, str] = {}
    first_by_pixels: dict[str, str] = {}
    for item in sorted(checked, key=lambda c: c.path):
        reason = item.reason
        if not reason and not item.label:
            reason = "no label: no real/ or fake/ folder in its path"
        if not reason and item.sha256 in first_by_bytes:
            reason = f"duplicate of {first_by_bytes[item.sha256]} (identical bytes)"
        if not reason and item.pixels_sha256 in first_by_pixels:
            reason = f"duplicate of {first_by_pixels[item.pixels_sha256]} (identical pixels)"
        if reason:
            rejected.append({"path": item.path, "reason": reason})
            continue
        first_by_bytes[item.sha256] = item.path
        first_by_pixels[item.pixels_sha256] = item.path
        kept.append(item)
    return kept, rejected


def assign_splits(groups: dict[str, tuple[str, str, int]], fractions: SplitFractions, seed: int) -> dict[str, str]:
    """Map each group to one split so that, per label and stratum, image counts come near the split fractions.

    `groups` maps a group to (its label, its stratum, its image count). Per label and stratum, groups are taken
    largest first (ties in seeded random order) and each goes to the split furthest below its target count, in
    proportion to that target: a stratum of three groups gives one to each split, not two to train.
    """
    rng = np.random.default_rng(seed)
    target = {"train": fractions.train, "val": fractions.val, "test": fractions.test}
    assignment: dict[str, str] = {}
    for label, stratum in sorted({(label, stratum) for label, stratum, _ in groups.values()}):
        names = sorted(name for name, (lab, stra, _) in groups.items() if (lab, stra) == (label, stratum))
        names = [names[i] for i in rng.permutation(len(names))]
        names.sort(key=lambda name: -groups[name][2])
        total = sum(groups[name][2] for name in names)
        filled = dict.fromkeys(SPLITS, 0)
        for name in names:
            split = max(SPLITS, key=lambda s: 1 - filled[s] / (target[s] * total))
            assignment[name] = split
            filled[split] += groups[name][2]
    return assignment


def check_counts(rows: list[dict[str, str]], min_per_split: int) -> None:
    """One clear error if a class is missing its reals or has too few images in some split."""
    counts = Counter((row["split"], row["label"]) for row in rows)
    labels = sorted({row["label"] for row in rows})
    if "real" not in labels:
        raise GandctError("no usable real images: the detectors and the ProGAN need real photographs")
    for label in labels:
        for split in SPLITS:
            if counts[(split, label)] < min_per_split:
                raise GandctError(
                    f"too few usable images: {split}/{label} has {counts[(split, label)]}, "
                    f"prepare.min_per_split is {min_per_split}; add images or lower that value "
                    f"(see {paths.REJECTED} for what was skipped)"
                )


def prepare(params: Params) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Check, de-duplicate and split every listed raw file; return (manifest rows, rejected rows)."""
    files_csv = paths.raw_source_dir(params.data.source) / paths.RAW_FILES_NAME
    if not files_csv.is_file():
        raise GandctError(f"{files_csv} not found; run the download stage first (make data)")
    root = paths.source_root(params.data.source, params.data.folder)
    listed = read_csv(files_csv)
    jobs = [
        CheckJob(
            tuple((str(root / row["path"]), row) for row in listed[start : start + CHUNK_SIZE]), params.prepare.min_size
        )
        for start in range(0, len(listed), CHUNK_SIZE)
    ]
    checked: list[CheckedFile] = []
    with (
        stop_cleanly_on_signals(),
        worker_pool(os.cpu_count() or 1, __name__) as run,
        progress(total=len(listed), desc="prepare", unit="file", mininterval=1) as bar,
    ):
        for results in run(run_check, jobs):  # in listing order
            checked += results
            bar.update(len(results))
    kept, rejected = drop_unusable(checked)

    # A group's label is its most common one; the whole group goes to one split whatever its labels.
    sizes = Counter(item.group for item in kept)
    group_label, group_stratum = {}, {item.group: item.stratum for item in kept}
    for (group, label), _ in Counter((item.group, item.label) for item in kept).most_common():
        group_label.setdefault(group, label)
    groups = {group: (group_label[group], group_stratum[group], size) for group, size in sizes.items()}
    split_of = assign_splits(groups, params.prepare.split, params.seed)
    rows = [
        {
            "path": item.path,
            "label": item.label,
            "split": split_of[item.group],
            "group": item.group,
            "generator": item.generator,
            "sha256": item.sha256,
            "stratum": item.stratum,
            "format": item.format,
        }
        for item in kept
    ]
    rows.sort(key=lambda row: (SPLITS.index(row["split"]), row["label"], row["path"]))
    return rows, rejected


def main(argv: list[str] | None = None) -> None:
    """Run the stage: check, de-duplicate and split the raw images into the manifest."""
    parser = argparse.ArgumentParser(prog="gandct prepare", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    setup_logging()
    params = load_params()
    rows, rejected = prepare(params)
    # rejected.csv is written even when the counts fail: it is what the user needs to see then.
    write_csv(paths.REJECTED, REJECTED_COLUMNS, rejected)
    check_counts(rows, params.prepare.min_per_split)
    write_csv(paths.MANIFEST, MANIFEST_COLUMNS, rows)
    counts = Counter((row["split"], row["label"]) for row in rows)
    log.info("manifest: %s", ", ".join(f"{s}/{lab}={n}" for (s, lab), n in sorted(counts.items())))
    if rejected:
        log.warning("skipped %d unusable or duplicate file(s); reasons in %s", len(rejected), paths.REJECTED)


if __name__ == "__main__":
    run_command("prepare", main)
