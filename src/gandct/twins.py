"""The real/twin pairs of a generator that maps photos (an auto-encoder family, a third-party generator): each
real beside the twin that shares its file stem. Pure bookkeeping on rows, so the stages that write twins name
them, and the quality stage (on the listings) and the report (on the feature cache, `twin_spectra`) pair them,
the same way."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from gandct import paths

# Each auto-encoder family's test set, and the family: {"test_autogan_nearest": "nearest", ...}
TWIN_SETS = {
    test_set: gan.removeprefix("autogan_")
    for test_set, gan in paths.SPLIT_GENERATOR.items()
    if gan in paths.AUTOGAN_GENERATORS
}


def twin_pairs(rows: list[dict[str, str]]) -> list[tuple[int, int]]:
    """(real row, twin row) of ids rows (label 0 / 1) whose file stems match, in real row order; a stem that
    two reals or two twins share is left out, as it pairs nothing for sure."""
    stems = {label: [Path(row["path"]).stem for row in rows if row["label"] == label] for label in ("0", "1")}
    unique = {label: {stem for stem, n in Counter(names).items() if n == 1} for label, names in stems.items()}
    index = {label: {} for label in ("0", "1")}
    for i, row in enumerate(rows):
        stem = Path(row["path"]).stem
        if stem in unique[row["label"]]:
            index[row["label"]][stem] = i
    return sorted((i, index["1"][stem]) for stem, i in index["0"].items() if stem in index["1"])


def twin_paths(folder: Path, reals: list[dict[str, str]]) -> list[Path]:
    """Where the twin of each real (a manifest row) goes, so that `twin_pairs` finds it by its stem:
    <folder>/<split>/<stem>.png, or <folder>/<split>/<sha256[:12]>/<stem>.png for a stem that two reals of one
    split share (prepare keeps no two images with one hash)."""
    stems = Counter((row["split"], Path(row["path"]).stem) for row in reals)
    twins = []
    for row in reals:
        stem = Path(row["path"]).stem
        shared = stems[(row["split"], stem)] > 1
        twins.append(folder / row["split"] / (row["sha256"][:12] if shared else "") / f"{stem}.png")
    return twins
