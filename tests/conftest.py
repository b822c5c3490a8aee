"""Shared fixtures (plain helpers are in helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import ProjectCopy, copy_project


@pytest.fixture
def project_copy(tmp_path: Path) -> ProjectCopy:
    """A temporary copy of the repository for `dvc repro` runs."""
    return copy_project(tmp_path)
