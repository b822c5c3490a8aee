"""download stage: fetch or build the raw images for `data.source` into `data/raw/<source>/`.

- sample: real photographs that ship inside installed packages, cut into seeded random patches.
- kaggle: a Kaggle data set through the official client, extracted only once it is complete and safe.
- folder: a local folder of `real/` and `fake/` images, indexed in place (nothing is copied).

Every source ends with `data/raw/<source>/files.csv` (path, label, group, generator, origin): the list
the prepare stage reads. Paths are relative to the source's root folder.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import tempfile
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

import numpy as np
import requests

from gandct import paths, photos
from gandct.entry import run_command
from gandct.errors import GandctError
from gandct.fileio import atomic_dir, walk_files, write_csv
from gandct.images import save_png
from gandct.labels import label_from_path
from gandct.logs import setup_logging
from gandct.params import DataParams, load_params

log = logging.getLogger(__name__)

# stratum: the photo's kind, which prepare balances across splits (photos.Photo); top, left, flipped: where a
# sample patch lies in its bundled photo (photos.Patch); format: the encoding of the file the pixels were first
# stored in (jpeg, png), a bundled photo's for its patches. Empty for other sources (prepare reads the format).
FILES_COLUMNS = ["path", "label", "group", "generator", "origin", "stratum", "top", "left", "flipped", "format"]

KAGGLE_CREDENTIALS_HELP = (
    "set KAGGLE_USERNAME and KAGGLE_KEY (or KAGGLE_API_TOKEN) in the environment, or put kaggle.json "
    "at ~/.kaggle/kaggle.json (chmod 600); create a token at https://www.kaggle.com/settings/api"
)


# --- sample: patches of photographs that ship inside installed packages -----------------------------


def build_sample(data: DataParams, seed: int, dest: Path) -> None:
    """Write `data.patches_per_photo` patches of every bundled photo to `dest/real/`."""
    rows, skipped = [], []
    with atomic_dir(dest) as staging:
        (staging / "real").mkdir()
        for photo in photos.SAMPLE_PHOTOS:
            pixels = photos.load_photo(photo.origin)
            if min(pixels.shape[:2]) < data.patch_size:
                skipped.append(
                    f"{photo.origin} ({pixels.shape[1]}x{pixels.shape[0]} < data.patch_size={data.patch_size})"
                )
                continue
            # One generator per photo, keyed by its name: adding a photo does not move the others' patches.
            rng = np.random.default_rng([seed, zlib.crc32(photo.origin.encode())])
            stem, encoding = PurePosixPath(photo.origin).stem, photos.origin_format(photo.origin)
            for index, patch in enumerate(
                photos.random_patches(pixels.shape, data.patches_per_photo, data.patch_size, rng)
            ):
                relative = f"real/{stem}_{index:04d}.png"
                save_png(staging / relative, patch.cut(pixels))
                rows.append(
                    {"path": relative, "label": "real", "group": photo.group, "generator": "", "origin": photo.origin}
                    | {"stratum": photo.stratum, "top": patch.top, "left": patch.left, "flipped": int(patch.flipped)}
                    | {"format": encoding}
                )
        for reason in skipped:
            log.warning("skipped photo %s", reason)
        if len({row["group"] for row in rows}) < 3:
            raise GandctError(
                f"data.patch_size={data.patch_size} leaves fewer than 3 usable photos; use a smaller patch size"
            )
        write_csv(staging / paths.RAW_FILES_NAME, FILES_COLUMNS, rows)
    log.info(
        "sample: %d patches of %dpx from %d photos",
        len(rows),
        data.patch_size,
        len(photos.SAMPLE_PHOTOS) - len(skipped),
    )


# --- folder and kaggle: label each file from its path -------------------------------------------------


def index_files(root: Path, relatives: Iterable[PurePosixPath], origin: str) -> list[dict[str, str]]:
    """One files.csv row per file; files with no real/fake folder in their path get an empty label."""
    rows = []
    for relative in sorted(relatives):
        label, generator = label_from_path(relative)
        group = str(relative.with_suffix(""))  # no shared id in these layouts: each file is its own group
        rows.append({"path": str(relative), "label": label, "group": group, "generator": generator, "origin": origin})
    return rows


def relative_files(root: Path) -> list[PurePosixPath]:
    """Every entry `walk_files` finds below `root`, as POSIX paths relative to it."""
    return [PurePosixPath(path.relative_to(root).as_posix()) for path in walk_files(root)]


def index_folder(folder: Path, dest: Path) -> None:
    """Record the images of a local folder in place: `dest/files.csv` lists them, nothing is copied."""
    if not folder.is_dir():
        raise GandctError(f"data.folder: {folder} is not a folder (expected real/ and fake/ inside it)")
    rows = index_files(folder, relative_files(folder), origin=f"folder:{folder}")
    if not any(row["label"] for row in rows):
        raise GandctError(f"data.folder: no file of {folder} is under a real/ or fake/ folder")
    with atomic_dir(dest) as staging:
        write_csv(staging / paths.RAW_FILES_NAME, FILES_COLUMNS, rows)
    log.info("folder: indexed %d files of %s", len(rows), folder)


def check_archive_members(archive: zipfile.ZipFile) -> None:
    """Refuse the whole archive if any member could write outside the target or is a link."""
    for info in archive.infolist():
        name = info.filename
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
            raise GandctError(f"unsafe archive: member {name!r} has an absolute path")
        if ".." in parts:
            raise GandctError(f"unsafe archive: member {name!r} points outside the target folder")
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise GandctError(f"unsafe archive: member {name!r} is a symbolic link")


def extract_archive(archive_path: Path, target: Path) -> None:
    """Extract a zip archive after checking every member's path and every member's CRC."""
    try:
        with zipfile.ZipFile(archive_path) as archive:
            check_archive_members(archive)
            broken = archive.testzip()
            if broken is not None:
                raise GandctError(f"broken archive {archive_path.name}: member {broken!r} fails its CRC check")
            archive.extractall(target)
    # RuntimeError: an encrypted member, or (NotImplementedError) a compression zipfile lacks, such as Deflate64.
    except (zipfile.BadZipFile, EOFError, zlib.error, RuntimeError) as err:
        raise GandctError(f"unreadable archive {archive_path.name}: {err}") from None


def kaggle_api():  # noqa: ANN201 - the client's class is imported lazily
    """An authenticated `KaggleApi`; missing (or, for a token, rejected) credentials become one clear GandctError."""
    # Importing the package authenticates and prints the client's own help when no credentials are
    # set; keep that off the console and say it once, better, below.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        from kaggle.api.kaggle_api_extended import KaggleApi

        api = KaggleApi()
        try:
            api.authenticate()
        except SystemExit:
            raise GandctError(f"no valid Kaggle credentials found: {KAGGLE_CREDENTIALS_HELP}") from None
    return api


def explain_http_error(err: requests.HTTPError, dataset: str) -> str:
    """Turn the client's HTTP error into a sentence that says what to do."""
    status = err.response.status_code if err.response is not None else None
    if status in (401, 403):
        return f"Kaggle refused the credentials or access to {dataset} (HTTP {status}): {KAGGLE_CREDENTIALS_HELP}"
    if status == 404:
        return f"Kaggle data set {dataset!r} not found (HTTP 404); check data.kaggle_dataset (owner/slug)"
    if status is not None and status >= 500:
        return f"Kaggle server error (HTTP {status}) while downloading {dataset}; try again later"
    return f"Kaggle download of {dataset} failed: {err}"


def download_kaggle(dataset: str, dest: Path) -> None:
    """Download `dataset` and extract it into `dest`; on any failure `dest` is left as it was."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".kaggle-download-", dir=dest.parent) as download_dir:
        # Authentication is inside: an access token is checked online, so it meets the same network errors.
        try:
            api = kaggle_api()
            api.dataset_download_files(dataset, path=download_dir, quiet=False, unzip=False, force=True)
        except requests.HTTPError as err:
            raise GandctError(explain_http_error(err, dataset)) from None
        except requests.ConnectionError as err:
            raise GandctError(f"could not reach Kaggle to download {dataset} (no network?): {err}") from None
        # The client retries a broken transfer, then re-raises it; a retry that saved an error page instead
        # ends in ValueError (size mismatch).
        except (requests.RequestException, ValueError) as err:
            raise GandctError(f"Kaggle download of {dataset} broke off: {err}") from None
        archives = sorted(Path(download_dir).glob("*.zip"))
        if len(archives) != 1:
            raise GandctError(f"Kaggle download of {dataset} produced no single zip archive")
        with atomic_dir(dest) as staging:
            extract_archive(archives[0], staging)
            rows = index_files(staging, relative_files(staging), origin=f"kaggle:{dataset}")
            if not any(row["label"] for row in rows):
                raise GandctError(f"Kaggle data set {dataset}: no file is under a real/ or fake/ folder")
            write_csv(staging / paths.RAW_FILES_NAME, FILES_COLUMNS, rows)
    log.info("kaggle: %s extracted, %d files", dataset, len(rows))


def main(argv: list[str] | None = None) -> None:
    """Run the stage: fetch or build the raw images of data.source."""
    parser = argparse.ArgumentParser(prog="gandct download", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    setup_logging()
    params = load_params()
    dest = paths.raw_source_dir(params.data.source)
    if params.data.source == "sample":
        build_sample(params.data, params.seed, dest)
    elif params.data.source == "kaggle":
        download_kaggle(params.data.kaggle_dataset, dest)
    else:
        index_folder(Path(params.data.folder), dest)


if __name__ == "__main__":
    run_command("download", main)
