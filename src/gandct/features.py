"""features stage: cache the DCT maps and pixels of every manifest and generated image as .npy arrays.

Reads `data/interim/manifest.csv` (prepare) and `data/interim/generated/{progan,dcgan}.csv` (the GAN
stages). Writes, for each split (train, val, test, and test_unseen: the test reals with the fakes of a GAN
no detector trains on):
`data/processed/{split}_dct.npy` and `{split}_pixels.npy` (N, H, W, C), `{split}_y.npy` (N,) (0 real,
1 fake), all float32, and `{split}_ids.csv` (path, generator, label of each row), plus
`data/processed/dct_stats.npz`, the train split's per-coefficient statistics that z-score every split.

Worker processes decode and transform the images chunk by chunk (with `gandct.dct`, the one preprocessing
path) and write each chunk straight into its rows of the output arrays, so memory stays flat whatever the
number of images. The train split is written first as raw log spectra while their moments are merged;
its rows are then z-scored in place. The folder appears only complete, renamed into place at the end.
"""

from __future__ import annotations

import argparse
import functools
import logging
import multiprocessing
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from gandct import paths
from gandct.cli import run_command
from gandct.dct import DctStats, Moments, Preprocessing, fit_image, log_spectra, scale_pixels
from gandct.errors import GandctError
from gandct.fileio import atomic_dir, read_csv, write_csv
from gandct.images import ImageError, load_rgb
from gandct.logs import setup_logging
from gandct.params import load_params

log = logging.getLogger(__name__)

LISTING_COLUMNS = ("path", "label", "split", "generator")
LABELS = {"real": 0, "fake": 1}
ID_COLUMNS = ["path", "generator", "label"]
# What to run again when a listed image cannot be used, by the listing that named it.
REMEDY = {
    str(paths.MANIFEST): "it changed after prepare checked it; run prepare again (dvc repro prepare)",
    **{str(paths.generated_listing(gan)): f"run the {gan} stage again (dvc repro {gan})" for gan in paths.GENERATORS},
}


@dataclass(frozen=True)
class Item:
    """One image to transform, as a listing names it."""

    path: str
    label: int  # 0 real, 1 fake
    generator: str
    listing: str  # the CSV file that lists it, for error messages


@dataclass(frozen=True)
class SplitArrays:
    """The two float32 (N, H, W, C) output arrays of a split and where their rows start in the files."""

    dct: Path
    pixels: Path
    dct_offset: int
    pixels_offset: int


# --- reading the listings ---------------------------------------------------------------------------------


def read_listing(path: Path, producer: str) -> list[dict[str, str]]:
    """Rows of a manifest-like CSV; a missing file or column is a GandctError."""
    if not path.is_file():
        raise GandctError(f"{path} not found; run the {producer} stage first (dvc repro {producer})")
    rows = read_csv(path)
    missing = [column for column in LISTING_COLUMNS if rows and column not in rows[0]]
    if missing:
        raise GandctError(f"{path}: missing column(s) {', '.join(missing)}")
    return rows


def to_item(row: dict[str, str], listing: Path) -> Item:
    """The Item of one listing row; a label other than real or fake is a GandctError."""
    if row["label"] not in LABELS:
        raise GandctError(f"{listing}: {row['path']} has label {row['label']!r}, expected real or fake")
    return Item(row["path"], LABELS[row["label"]], row["generator"], str(listing))


def split_items(
    manifest: Iterable[dict[str, str]], generated: dict[Path, list[dict[str, str]]]
) -> dict[str, list[Item]]:
    """The images of each split, in listing order.

    train, val and test: the manifest's rows of that split, then each generator listing's. test_unseen: the
    manifest's test reals, then the listings' test_unseen fakes (a generator no detector trains on).
    """
    items: dict[str, list[Item]] = {split: [] for split in paths.FEATURE_SPLITS}
    for row in manifest:
        if row["split"] not in ("train", "val", "test"):
            raise GandctError(f"{paths.MANIFEST}: {row['path']} has split {row['split']!r}")
        item = to_item(row, paths.MANIFEST)
        items[row["split"]].append(item)
        if row["split"] == "test" and item.label == LABELS["real"]:
            items["test_unseen"].append(item)
    for listing, rows in generated.items():
        for row in rows:
            if row["split"] not in paths.FEATURE_SPLITS:
                raise GandctError(f"{listing}: {row['path']} has split {row['split']!r}")
            items[row["split"]].append(to_item(row, listing))
    listings = ", ".join(map(str, [paths.MANIFEST, *generated]))
    for split, listed in items.items():
        if not listed:
            raise GandctError(f"split {split} has no images; check {listings}")
    if {item.label for item in items["train"]} != set(LABELS.values()):
        have = "real" if items["train"][0].label == LABELS["real"] else "fake"
        raise GandctError(
            f"the train split has only {have} images: a detector needs both classes "
            f"(fakes come from {', '.join(map(str, generated))} or from the source data set's fake/ folders)"
        )
    return items


def check_files_exist(items: dict[str, list[Item]]) -> None:
    """One clear error, before any work, if listed images are missing."""
    unique = {item.path: item for listed in items.values() for item in listed}
    for listing, remedy in REMEDY.items():
        missing = sorted(path for path, item in unique.items() if item.listing == listing and not Path(path).is_file())
        if missing:
            names = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
            raise GandctError(f"{len(missing)} image(s) listed in {listing} are missing ({names}); {remedy}")


# --- the work done in the worker processes ----------------------------------------------------------------


def write_rows(path: Path, offset: int, start: int, rows: np.ndarray) -> None:
    """Write float32 rows into an .npy array file from row `start` on.

    Plain positioned writes rather than a mapping: no page of the file stays mapped into the worker, and
    writing is several times cheaper than faulting in freshly mapped pages.
    """
    rows = np.ascontiguousarray(rows, dtype=np.float32)
    with Path(path).open("r+b") as handle:
        handle.seek(offset + start * rows[0].nbytes)
        handle.write(rows.data)


def read_rows(path: Path, offset: int, start: int, count: int, row_shape: tuple[int, ...]) -> np.ndarray:
    """Read `count` float32 rows of an .npy array file from row `start` on."""
    values = count * int(np.prod(row_shape))
    first = offset + start * int(np.prod(row_shape)) * 4
    return np.fromfile(path, dtype=np.float32, count=values, offset=first).reshape(count, *row_shape)


def fit_item(item: Item, preprocessing: Preprocessing) -> np.ndarray:
    """Decode and fit one listed image; an unusable one is a GandctError naming it and what to rerun."""
    try:
        return fit_image(load_rgb(item.path), preprocessing)
    except ImageError as err:
        raise GandctError(f"cannot use {item.path} (listed in {item.listing}): {err}; {REMEDY[item.listing]}") from None


@dataclass(frozen=True)
class TransformJob:
    """Decode, fit and transform a chunk of images into their rows of a split's arrays."""

    split: str
    items: tuple[Item, ...]
    start: int  # row of the first item
    arrays: SplitArrays
    preprocessing: Preprocessing
    stats: DctStats | None  # None on the train pass: write raw log spectra and return their moments

    @property
    def count(self) -> int:
        """Images in the job."""
        return len(self.items)

    def run(self) -> Moments | None:
        """Write the job's rows (pixels, and z-scored or raw log spectra); raw ones also give their moments."""
        fitted = np.stack([fit_item(item, self.preprocessing) for item in self.items])
        spectra = log_spectra(fitted, self.preprocessing.eps)
        arrays = self.arrays
        write_rows(arrays.pixels, arrays.pixels_offset, self.start, scale_pixels(fitted))
        if self.stats is None:
            write_rows(arrays.dct, arrays.dct_offset, self.start, spectra)
            return Moments.of(spectra)
        write_rows(arrays.dct, arrays.dct_offset, self.start, self.stats.normalize(spectra))
        return None


@dataclass(frozen=True)
class NormalizeJob:
    """Z-score rows of raw log spectra in place."""

    split: str
    start: int
    count: int
    arrays: SplitArrays
    stats: DctStats

    def run(self) -> None:
        """Read the rows, z-score them, write them back."""
        arrays = self.arrays
        spectra = read_rows(arrays.dct, arrays.dct_offset, self.start, self.count, self.stats.preprocessing.shape)
        write_rows(arrays.dct, arrays.dct_offset, self.start, self.stats.normalize(spectra))


Job = TransformJob | NormalizeJob


def run_job(job: Job) -> Moments | None:
    """Run one job (a module-level function, so that worker processes can receive it)."""
    return job.run()


def _one_thread_per_worker() -> None:
    cv2.setNumThreads(0)  # the processes are the parallelism; OpenCV's own threads would only compete


@contextmanager
def worker_pool(workers: int) -> Iterator[Callable[[Callable, list], Iterable]]:
    """Yield an ordered `map(function, jobs)` over `workers` processes (in this process when 1)."""
    if workers == 1:
        yield map
        return
    # Fork only from the clean fork-server process: forking a caller that already runs threads (TensorFlow's,
    # OpenCV's) can copy a held lock into the child and hang it forever.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    executor = ProcessPoolExecutor(workers, mp_context=context, initializer=_one_thread_per_worker)
    try:
        yield executor.map
    finally:
        # On an error, drop the queued jobs instead of finishing them (multiprocessing.Pool's terminate()
        # could hang here when a worker had raised).
        executor.shutdown(wait=True, cancel_futures=True)


def run_with_progress(run: Callable[[Callable, list], Iterable], jobs: list[Job]) -> list[Moments | None]:
    """Run jobs in order with one progress bar per split (and pass); return their results in order."""
    labels = [f"features {job.split}" + (" z-score" if isinstance(job, NormalizeJob) else "") for job in jobs]
    totals = Counter()
    for label, job in zip(labels, jobs, strict=True):
        totals[label] += job.count
    results, bar, current = [], None, None
    for label, job, result in zip(labels, jobs, run(run_job, jobs), strict=True):
        if label != current:
            if bar is not None:
                bar.close()
            bar, current = tqdm(total=totals[label], desc=label, unit="img", mininterval=1), label
        bar.update(job.count)
        results.append(result)
    if bar is not None:
        bar.close()
    return results


# --- the stage --------------------------------------------------------------------------------------------


def create_arrays(folder: Path, split: str, count: int, shape: tuple[int, int, int]) -> SplitArrays:
    """Create the split's (count, H, W, C) float32 .npy files and note where their data start."""
    files = [paths.features_file(split, kind, folder) for kind in ("dct.npy", "pixels.npy")]
    offsets = []
    for file in files:
        array = np.lib.format.open_memmap(file, mode="w+", dtype=np.float32, shape=(count, *shape))
        offsets.append(array.offset)
        del array
    return SplitArrays(files[0], files[1], offsets[0], offsets[1])


def write_labels(folder: Path, split: str, items: list[Item]) -> None:
    """{split}_y.npy (0 real, 1 fake) and {split}_ids.csv, row for row with the arrays."""
    np.save(paths.features_file(split, "y.npy", folder), np.array([item.label for item in items], dtype=np.float32))
    ids = [{"path": item.path, "generator": item.generator, "label": item.label} for item in items]
    write_csv(paths.features_file(split, "ids.csv", folder), ID_COLUMNS, ids)


def build_features(
    items: dict[str, list[Item]], preprocessing: Preprocessing, folder: Path, workers: int, chunk_size: int
) -> DctStats:
    """Write every split into `folder`; the statistics come from the train split alone.

    Two passes: the train images (raw log spectra, and their moments); then, with the statistics, the
    in-place z-score of the train rows and the other splits, in one stream of jobs so no worker waits
    for a split to finish.
    """
    arrays = {}
    for split in paths.FEATURE_SPLITS:
        arrays[split] = create_arrays(folder, split, len(items[split]), preprocessing.shape)
        write_labels(folder, split, items[split])

    def transform_jobs(split: str, stats: DctStats | None) -> list[TransformJob]:
        listed = items[split]
        return [
            TransformJob(split, tuple(listed[start : start + chunk_size]), start, arrays[split], preprocessing, stats)
            for start in range(0, len(listed), chunk_size)
        ]

    with worker_pool(workers) as run:
        moments = functools.reduce(Moments.merge, run_with_progress(run, transform_jobs("train", None)))
        stats = DctStats.from_moments(moments, preprocessing)
        stats.save(folder / paths.DCT_STATS.name)
        train = len(items["train"])
        jobs: list[Job] = [
            NormalizeJob("train", start, min(chunk_size, train - start), arrays["train"], stats)
            for start in range(0, train, chunk_size)
        ]
        for split in paths.FEATURE_SPLITS[1:]:
            jobs += transform_jobs(split, stats)
        run_with_progress(run, jobs)
    return stats


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="gandct features", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    setup_logging()
    params = load_params()
    settings = params.features
    preprocessing = Preprocessing.from_params(settings)
    manifest = read_listing(paths.MANIFEST, "prepare")
    generated = {
        paths.generated_listing(gan): read_listing(paths.generated_listing(gan), gan) for gan in paths.GENERATORS
    }
    items = split_items(manifest, generated)
    check_files_exist(items)
    workers = settings.workers or os.cpu_count() or 1
    with atomic_dir(paths.PROCESSED) as staging:
        build_features(items, preprocessing, staging, workers, settings.chunk_size)
    for split, listed in items.items():
        counts = Counter(item.generator or ("real" if item.label == LABELS["real"] else "fake") for item in listed)
        log.info("%s: %d images (%s)", split, len(listed), ", ".join(f"{g}={n}" for g, n in sorted(counts.items())))
    log.info("wrote %s: DCT maps and pixels of shape %s", paths.PROCESSED, preprocessing.shape)


if __name__ == "__main__":
    run_command("features", main)
