"""The spectra of an auto-encoder family's test set, pair by pair from the feature cache: each test photo's
log DCT spectrum against its twin's, whose only systematic difference is the decoder's up-sampling."""

from __future__ import annotations

import numpy as np

from gandct import paths
from gandct.datasets import load_split
from gandct.detector_names import DCT, PIXELS
from gandct.errors import GandctError
from gandct.fileio import read_csv
from gandct.twins import twin_pairs


def paired_examples(test_set: str, count: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`count` seeded pairs of a twins' test set: their framed real and twin images (uint8), each pair's
    log-spectrum difference (twin minus real, channels averaged), and that difference averaged over every pair."""
    pairs = twin_pairs(read_csv(paths.features_file(test_set, "ids.csv")))
    if not pairs:
        raise GandctError(f"{paths.processed_split(test_set)} holds no real/twin pairs; run dvc repro autogan")
    pixels, _ = load_split(test_set, PIXELS)
    spectra, _ = load_split(test_set, DCT)
    real_rows, twin_rows = (np.array(side) for side in zip(*pairs, strict=True))
    every = np.zeros(spectra.shape[1:3])
    for start in range(0, len(pairs), 512):  # a chunk at a time from the memory map
        rows = slice(start, start + 512)
        every += (spectra[twin_rows[rows]] - spectra[real_rows[rows]]).mean(axis=-1).sum(axis=0)
    chosen = np.sort(np.random.default_rng(seed).choice(len(pairs), size=min(count, len(pairs)), replace=False))
    reals, twins = real_rows[chosen], twin_rows[chosen]
    differences = (spectra[twins] - spectra[reals]).mean(axis=-1)
    return pixels[reals], pixels[twins], differences, every / len(pairs)
