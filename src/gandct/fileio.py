"""Atomic writes and CSV tables: a killed stage never leaves a half-written output a later run trusts."""

from __future__ import annotations

import csv
import glob
import io
import logging
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from gandct.errors import GandctError

log = logging.getLogger(__name__)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_staging(final: Path) -> list[Path]:
    """Remove the staging folders of `final` that a killed run left behind; return what was removed.

    `atomic_dir` names them `.<name>.<pid>-<random>.tmp` (and `.<name>.old-<pid>` while it swaps), so a
    folder whose process still runs is kept and only the leftovers of dead runs go (as do folders named
    before the process id was part of the name).
    """
    final = Path(final)
    removed = []
    pattern = re.compile(rf"\.{re.escape(final.name)}\.(?:(?:(\d+)-)?\w+\.tmp|old-(\d+))")
    for candidate in final.parent.glob(f".{glob.escape(final.name)}.*"):
        match = pattern.fullmatch(candidate.name)
        if not match or not candidate.is_dir():
            continue
        owner = match[1] or match[2]
        if owner is None or not _process_alive(int(owner)):
            shutil.rmtree(candidate, ignore_errors=True)
            removed.append(candidate)
    return removed


@contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside `final`; on success it replaces `final` by rename.

    On any error the temporary folder is removed and `final` is left exactly as it was. Staging folders
    of earlier runs that were killed before they could clean up are removed first.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    for stale in remove_stale_staging(final):
        log.info("removed %s, left by a run that was stopped", stale)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.{os.getpid()}-", suffix=".tmp", dir=final.parent))
    try:
        yield tmp
        tmp.chmod(0o755)
        old = None
        if final.exists():
            old = final.with_name(f".{final.name}.old-{os.getpid()}")
            os.replace(final, old)
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary file path beside `final`; on success it is renamed onto `final`."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=f".tmp{final.suffix}", dir=final.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        tmp.chmod(0o644)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> None:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_csv(path: Path, fieldnames: list[str], rows: Iterable[Mapping[str, object]]) -> None:
    """Write rows (dicts keyed by `fieldnames`) to a CSV file atomically."""
    with atomic_path(path) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fieldnames, extrasaction="raise")
        writer.writeheader()
        writer.writerows(rows)


def write_npz(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write arrays as an uncompressed `.npz` (readable by `np.load`) atomically, with byte-identical output
    for identical arrays: `np.savez` stamps the current time into the archive, which would make DVC see a
    changed output, and rerun every later stage, each time this file is rewritten."""
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
            archive.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), buffer.getvalue())


def read_csv(path: Path) -> list[dict[str, str]]:
    """Read a CSV file written by `write_csv` into a list of dicts."""
    with Path(path).open(newline="") as handle:
        return list(csv.DictReader(handle))


def walk_files(root: Path) -> list[Path]:
    """Every entry below `root` that is not a folder, sorted; hidden files included, nothing dropped.

    Symbolic links to folders are followed, except one that points to a folder it is inside (a loop):
    that link is returned as an entry, like a broken link, so whoever reads the entries can list it with
    its reason instead of losing it.
    """
    found: list[Path] = []

    def visit(folder: Path, ancestors: frozenset[Path]) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:  # listed itself, so its reader says why it cannot be listed
            found.append(folder)
            return
        for entry in entries:
            path = Path(entry.path)
            real_folder = entry.is_dir(follow_symlinks=False)
            if real_folder or (entry.is_symlink() and path.is_dir() and path.resolve() not in ancestors):
                visit(path, ancestors | {path.resolve()})
            else:
                found.append(path)

    visit(Path(root), frozenset({Path(root).resolve()}))
    return sorted(found)


def expand_paths(targets: Iterable[str | Path]) -> list[Path]:
    """Files as given, folders walked with `walk_files`; a path that names nothing is a GandctError.

    A broken symbolic link is kept, so that whoever reads it can report it like any unreadable file.
    """
    found = []
    for target in map(Path, targets):
        if target.is_dir():
            found += walk_files(target)
        elif target.exists() or target.is_symlink():
            found.append(target)
        else:
            raise GandctError(f"{target}: no such file or folder")
    return found


def output_problem(path: Path, *, folder: bool) -> str:
    """Why `path` cannot become an output file (or, with `folder`, an output folder); "" when it can.

    Checked before any work, so that a wrong output path costs nothing and leaves nothing behind.
    """
    path = Path(path)
    if path.is_dir() and not folder:
        return f"{path} is a folder; give a file name"
    if path.exists() and not path.is_dir() and folder:
        return f"{path} is a file; give a folder"
    existing = path if folder and path.is_dir() else path.parent  # a file is written beside itself, then renamed
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, so nothing can be written under it"
    try:  # trying is the one sure test (permissions, read-only mounts, ...); the file vanishes on close
        tempfile.TemporaryFile(dir=existing).close()
    except OSError as err:
        return f"cannot write in {existing} ({err.strerror or err})"
    return ""
