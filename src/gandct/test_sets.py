"""The cached test sets as the report and saliency stages read them: each set's mean-over-channels log-DCT maps,
what made each image (the photos, or a generator), and a seeded pick of the images of one kind."""

from __future__ import annotations

import numpy as np

from gandct import paths
from gandct.datasets import load_split
from gandct.detector_names import DCT
from gandct.fileio import read_csv


def channel_mean_spectra(split: str) -> tuple[np.ndarray, list[dict[str, str]]]:
    """The split's cached log-DCT maps with their channels averaged (N, H, W), and its ids rows."""
    spectra, _ = load_split(split, DCT)
    return np.asarray(spectra).mean(axis=-1), read_csv(paths.features_file(split, "ids.csv"))


def kind_of(row: dict[str, str]) -> str:
    """ "real" or the generator that made the fake."""
    return "real" if row["label"] == "0" else (row["generator"] or "fake")


def pick(rows: list[dict[str, str]], kind: str, count: int, rng: np.random.Generator) -> list[int]:
    """Seeded choice of up to `count` row indices of one kind, in index order."""
    indices = [i for i, row in enumerate(rows) if kind_of(row) == kind]
    return sorted(rng.choice(indices, size=min(count, len(indices)), replace=False).tolist()) if indices else []
