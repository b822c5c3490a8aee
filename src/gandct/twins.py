"""The real/twin pairs of an auto-encoder family's test rows: each test real beside the twin that shares its
file stem. Pure bookkeeping on rows, so the quality stage (on the listings) and the report (on the feature
cache, `twin_spectra`) pair them the same way."""

from __future__ import annotations

from collections import Counter
from pathlib import Path


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
