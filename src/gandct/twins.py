"""The real/twin pairs of test_paired: each test real beside the autogan twin that shares its file stem."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from gandct import paths
from gandct.datasets import load_split
from gandct.detector_names import DCT, PIXELS
from gandct.errors import GandctError
from gandct.fileio import read_csv

PAIRED = "test_paired"


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


def paired_examples(count: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`count` seeded pairs of test_paired: their fitted real and twin images (uint8), each pair's log-spectrum
    difference (twin minus real, channels averaged), and that difference averaged over every pair."""
    pairs = twin_pairs(read_csv(paths.features_file(PAIRED, "ids.csv")))
    if not pairs:
        raise GandctError(f"{paths.processed_split(PAIRED)} holds no real/twin pairs; run dvc repro autogan")
    pixels, _ = load_split(PAIRED, PIXELS)
    spectra, _ = load_split(PAIRED, DCT)
    real_rows, twin_rows = (np.array(side) for side in zip(*pairs, strict=True))
    every = np.zeros(spectra.shape[1:3])
    for start in range(0, len(pairs), 512):  # a chunk at a time from the memory map
        rows = slice(start, start + 512)
        every += (spectra[twin_rows[rows]] - spectra[real_rows[rows]]).mean(axis=-1).sum(axis=0)
    chosen = np.sort(np.random.default_rng(seed).choice(len(pairs), size=min(count, len(pairs)), replace=False))
    reals, twins = real_rows[chosen], twin_rows[chosen]
    differences = (spectra[twins] - spectra[reals]).mean(axis=-1)
    return pixels[reals], pixels[twins], differences, every / len(pairs)
