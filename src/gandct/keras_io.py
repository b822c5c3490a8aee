"""Saving Keras models so that DVC sees a change only when the model changed."""

from __future__ import annotations

import logging
import os
import tempfile
import zipfile
from pathlib import Path

import keras

log = logging.getLogger(__name__)

# Keras writes the save time into metadata.json of every .keras file; nothing else in it varies between saves.
VOLATILE_MEMBERS = {"metadata.json"}


def _contents(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist() if name not in VOLATILE_MEMBERS}


def save_model(model: keras.Model, path: Path) -> bool:
    """Save `model` to `path` atomically, unless `path` already holds the same architecture and weights.

    Re-saving identical weights would still give a new file (a new save time) and make every stage that
    depends on it re-run. Returns True when the file was written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent) as folder:
        tmp = Path(folder) / path.name
        model.save(tmp)
        try:
            unchanged = path.is_file() and _contents(tmp) == _contents(path)
        except zipfile.BadZipFile:  # a damaged old file is replaced
            unchanged = False
        if unchanged:
            log.info("%s: weights unchanged, kept the existing file", path)
            return False
        tmp.chmod(0o644)
        os.replace(tmp, path)  # same folder: the rename is atomic
    return True
