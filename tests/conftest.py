"""Shared fixtures (plain helpers are in helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import ProjectCopy, copy_project


@pytest.fixture
def project_copy(tmp_path: Path) -> ProjectCopy:
    """A temporary copy of the repository for `dvc repro` runs."""
    return copy_project(tmp_path)


# The longest test files first (measured with --durations). `make test` hands whole files to two workers as they
# free up, in collection order: the tiny pipeline's file (about 9 of the suite's 20 CPU-minutes) collected late
# would start when the other files are half done and set the wall time alone.
LONGEST_FIRST = ["test_pipeline.py", "test_gan_stages_e2e.py", "test_features.py", "test_train.py", "test_results.py"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Move the longest files to the front; a stable sort keeps every file's own order (its tests build on it)."""
    missing = [name for name in LONGEST_FIRST if not (Path(__file__).parent / name).is_file()]
    if missing:
        raise pytest.UsageError(f"conftest.LONGEST_FIRST names test files that do not exist: {missing}")
    rank = {name: place for place, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
