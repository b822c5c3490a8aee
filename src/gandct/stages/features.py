"""features stage: cache the framed images and DCT maps of one split, `gandct features <split>`.

Reads `data/interim/manifest.csv` (prepare) and the listings of the generators whose fakes the split holds:
for train and val those `train.fakes` names (the ProGAN's, an auto-encoder family's twins, or several), for
the test sets `paths.SPLIT_GENERATOR`'s: `test` holds the manifest's test images and the ProGAN's test fakes,
`test_<generator>` the test reals and that generator's test fakes (an auto-encoder's: the twins of those very
reals). The attribution sets `attribution_train` and `attribution_val` hold the photos and every generator's
fakes of that split, up to `attribute.images_per_class` of each source (the source data set's own fakes, of
unknown source, are left out). Writes
`data/processed/<split>/`: `dct.npy`, the log spectra log(|DCT| + eps) as float32 (N, H, W, C), not
z-scored; `pixels.npy`, the framed images as uint8 (N, H, W, C); `y.npy` (N,) float32 (0 real, 1 fake; on an
attribution set the source's index in `paths.SOURCES`, 0 still real); `ids.csv` (path, generator, label and
group of each row). The train splits (`paths.STATS_SPLITS`) also get `dct_stats.npz`, their per-coefficient
statistics: a model reads its inputs z-scored with the copy saved beside it, so no other split depends on
the train images.

Worker processes decode and transform the images chunk by chunk (with `gandct.dct`, the one preprocessing
path) and write each chunk straight into its rows of the output arrays, so memory stays flat whatever the
number of images; the train chunks also return their moments, merged into the statistics. The folder
appears only complete, renamed into place at the end.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gandct import paths
from gandct.dct import DctStats, Moments, Preprocessing, frame_image, log_spectra
from gandct.entry import run_command
from gandct.errors import GandctError
from gandct.fileio import atomic_dir, read_csv, write_csv
from gandct.images import ImageError, load_rgb
from gandct.logs import progress, setup_logging
from gandct.params import load_params
from gandct.workers import stop_cleanly_on_signals, worker_pool

log = logging.getLogger(__name__)

LISTING_COLUMNS = ("path", "label", "split", "group", "generator")
LEARNING_SPLITS = ("train", "val")  # the splits whose fakes params train.fakes chooses
MANIFEST_SPLITS = ("train", "val", "test")  # of the manifest's and the generators' listings
LABELS = {"real": 0, "fake": 1}
# A split's last jobs leave workers idle while one finishes: several jobs per worker keep the pool busy
# to the end, which matters for small splits and large images (few images per split, long jobs).
JOBS_PER_WORKER = 4
ID_COLUMNS = ["path", "generator", "label", "group"]
# What to run again when a listed image cannot be used, by the listing that named it.
REMEDY = {
    str(paths.MANIFEST): "it changed after prepare checked it; run prepare again (dvc repro prepare)",
    **{
        str(paths.generated_listing(gan)): f"run its stage again (dvc repro {paths.generator_stage(gan)})"
        for gan in paths.SPLIT_GENERATOR.values()
    },
}


@dataclass(frozen=True)
class Item:
    """One image to transform, as a listing names it."""

    path: str
    label: int  # 0 real, 1 fake (on an attribution set: the source's index in paths.SOURCES)
    generator: str
    group: str  # the photo (or file) it comes from: a twin shares its photo's, the evaluate stage resamples them
    listing: str  # the CSV file that lists it, for error messages


@dataclass(frozen=True)
class SplitArrays:
    """The split's (N, H, W, C) output arrays, log spectra (float32) and images (uint8), and where their
    rows start in the files."""

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
    return Item(row["path"], LABELS[row["label"]], row["generator"], row["group"], str(listing))


def split_generators(split: str, train_fakes: Sequence[str]) -> tuple[str, ...]:
    """The generators whose fakes a split holds: those of `train.fakes` for train and val, one per test set."""
    return tuple(train_fakes) if split in LEARNING_SPLITS else (paths.SPLIT_GENERATOR[split],)


def split_items(
    manifest: Iterable[dict[str, str]], generated: Mapping[Path, Iterable[dict[str, str]]], split: str
) -> list[Item]:
    """The images of one split, in listing order: the manifest's rows of that split (for a test_<generator>
    set, its test reals only), then the rows of that split in each listing of `generated` (listing path ->
    rows; for a test_<generator> set, the rows of the test split). Several listings share the fakes: the j-th
    of k gives its rows j, j + k, j + 2k, ... (for twins, those of every k-th photo), so a mixed source holds
    as many fakes as one generator would, the classes stay balanced and training costs the same."""
    own_set = split in MANIFEST_SPLITS  # the others are the test reals against one generator's fakes
    items = []
    for row in manifest:
        if row["split"] not in MANIFEST_SPLITS:
            raise GandctError(f"{paths.MANIFEST}: {row['path']} has split {row['split']!r}")
        item = to_item(row, paths.MANIFEST)
        if row["split"] == split or (not own_set and row["split"] == "test" and item.label == LABELS["real"]):
            items.append(item)
    fakes_split = split if own_set else "test"
    for place, (listing, rows) in enumerate(generated.items()):
        for row in rows:
            if row["split"] not in MANIFEST_SPLITS:
                raise GandctError(f"{listing}: {row['path']} has split {row['split']!r}")
        in_split = [row for row in rows if row["split"] == fakes_split]
        items.extend(to_item(row, listing) for row in in_split[place :: len(generated)])
    names = " and ".join(map(str, generated))
    if not items:
        raise GandctError(f"split {split} has no images; check {paths.MANIFEST} and {names}")
    if split == "train" and {item.label for item in items} != set(LABELS.values()):
        have = "real" if items[0].label == LABELS["real"] else "fake"
        raise GandctError(
            f"the train split has only {have} images: a detector needs both classes "
            f"(fakes come from {names} or from the source data set's fake/ folders)"
        )
    return items


def evenly_spread(rows: list, count: int) -> list:
    """At most `count` of `rows`, spread evenly from the first to the last (all of them if they are fewer)."""
    if len(rows) <= count:
        return list(rows)
    return [rows[index] for index in np.linspace(0, len(rows) - 1, count).round().astype(int)]


def attribution_items(
    manifest: Iterable[dict[str, str]], generated: Mapping[str, Iterable[dict[str, str]]], split: str, per_class: int
) -> list[Item]:
    """The images of attribution set `split` (paths.ATTRIBUTION_SPLITS): up to `per_class` photos of its split
    in the manifest, then as many fakes of that split from each generator of `generated` (generator -> listing
    rows), each labelled with its source's index in paths.SOURCES."""
    images_split = paths.ATTRIBUTION_SPLITS[split]
    reals = [row for row in manifest if row["split"] == images_split and row["label"] == "real"]
    items = [Item(row["path"], 0, "", row["group"], str(paths.MANIFEST)) for row in evenly_spread(reals, per_class)]
    for generator, rows in generated.items():
        fakes = [row for row in rows if row["split"] == images_split]
        listing = str(paths.generated_listing(generator))
        label = paths.SOURCES.index(generator)
        items.extend(
            Item(row["path"], label, generator, row["group"], listing) for row in evenly_spread(fakes, per_class)
        )
    missing = [source for source in paths.SOURCES if source not in {paths.SOURCES[item.label] for item in items}]
    if missing:
        raise GandctError(f"attribution set {split} has no {images_split} images of {', '.join(missing)}")
    return items


def check_files_exist(items: list[Item]) -> None:
    """One clear error, before any work, if listed images are missing."""
    unique = {item.path: item for item in items}
    for listing, remedy in REMEDY.items():
        missing = sorted(path for path, item in unique.items() if item.listing == listing and not Path(path).is_file())
        if missing:
            names = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
            raise GandctError(f"{len(missing)} image(s) listed in {listing} are missing ({names}); {remedy}")


# --- the work done in the worker processes ----------------------------------------------------------------


def write_rows(path: Path, offset: int, start: int, rows: np.ndarray) -> None:
    """Write rows into an .npy array file of their dtype from row `start` on.

    Plain positioned writes rather than a mapping: no page of the file stays mapped into the worker, and
    writing is several times cheaper than faulting in freshly mapped pages.
    """
    rows = np.ascontiguousarray(rows)
    with Path(path).open("r+b") as handle:
        handle.seek(offset + start * rows[0].nbytes)
        handle.write(rows.data)


def frame_item(item: Item, preprocessing: Preprocessing) -> np.ndarray:
    """Decode and frame one listed image; an unusable one is a GandctError naming it and what to change."""
    try:
        rgb = load_rgb(item.path)
    except ImageError as err:
        raise GandctError(f"cannot use {item.path} (listed in {item.listing}): {err}; {REMEDY[item.listing]}") from None
    try:
        return frame_image(rgb, preprocessing)
    except ImageError as err:  # too small for features.image_size: a choice of params, not a changed file
        hint = ""
        if item.listing == str(paths.MANIFEST):
            hint = f", or set prepare.min_size: {preprocessing.image_size} to leave such images out"
        raise GandctError(f"cannot use {item.path} (listed in {item.listing}): {err}{hint}") from None


@dataclass(frozen=True)
class TransformJob:
    """Decode, frame and transform a chunk of images into their rows of a split's arrays."""

    split: str
    items: tuple[Item, ...]
    start: int  # row of the first item
    arrays: SplitArrays
    preprocessing: Preprocessing
    moments: bool  # the train split: also return the moments of the log spectra, for the statistics

    @property
    def count(self) -> int:
        """Images in the job."""
        return len(self.items)

    def run(self) -> Moments | None:
        """Write the job's rows (framed images and log spectra); on the train split return their moments."""
        framed = np.stack([frame_item(item, self.preprocessing) for item in self.items])
        spectra = log_spectra(framed, self.preprocessing.eps)
        arrays = self.arrays
        write_rows(arrays.pixels, arrays.pixels_offset, self.start, framed)
        write_rows(arrays.dct, arrays.dct_offset, self.start, spectra)
        return Moments.of(spectra) if self.moments else None


def run_job(job: TransformJob) -> Moments | None:
    """Run one job (a module-level function, so that worker processes can receive it)."""
    return job.run()


def run_with_progress(run: Callable[[Callable, list], Iterable], jobs: list[TransformJob]) -> list[Moments | None]:
    """Run one split's jobs in order with a progress bar; return their results in order."""
    results = []
    with progress(
        total=sum(job.count for job in jobs), desc=f"features {jobs[0].split}", unit="img", mininterval=1
    ) as bar:
        for job, result in zip(jobs, run(run_job, jobs), strict=True):
            bar.update(job.count)
            results.append(result)
    return results


def job_size(count: int, chunk_size: int, workers: int) -> int:
    """Images per job for a split of `count` images: at most `chunk_size`, and few enough that each of the
    `workers` gets JOBS_PER_WORKER jobs."""
    return max(1, min(chunk_size, -(-count // (JOBS_PER_WORKER * workers))))


# --- the stage --------------------------------------------------------------------------------------------


def create_arrays(folder: Path, count: int, shape: tuple[int, int, int]) -> SplitArrays:
    """Create the split's (count, H, W, C) .npy files, log spectra and images, and note where their data start."""
    offsets = []
    for name, dtype in (("dct.npy", np.float32), ("pixels.npy", np.uint8)):
        array = np.lib.format.open_memmap(folder / name, mode="w+", dtype=dtype, shape=(count, *shape))
        offsets.append(array.offset)
        del array
    return SplitArrays(folder / "dct.npy", folder / "pixels.npy", offsets[0], offsets[1])


def write_labels(folder: Path, items: list[Item]) -> None:
    """y.npy (0 real, 1 fake) and ids.csv, row for row with the arrays."""
    np.save(folder / "y.npy", np.array([item.label for item in items], dtype=np.float32))
    ids = [{"path": item.path, "generator": item.generator, "label": item.label, "group": item.group} for item in items]
    write_csv(folder / "ids.csv", ID_COLUMNS, ids)


def build_split(
    split: str,
    items: list[Item],
    preprocessing: Preprocessing,
    folder: Path,
    run: Callable[[Callable, list], Iterable],
    chunk_size: int,
    workers: int,
) -> DctStats | None:
    """Write one split's files into `folder` with the pool `run` of `workers` processes, in jobs of at most
    `chunk_size` images; the train split also gets its statistics (`dct_stats.npz`), which are returned."""
    arrays = create_arrays(folder, len(items), preprocessing.shape)
    write_labels(folder, items)
    is_train = split in paths.STATS_SPLITS
    size = job_size(len(items), chunk_size, workers)
    jobs = [
        TransformJob(split, tuple(items[start : start + size]), start, arrays, preprocessing, is_train)
        for start in range(0, len(items), size)
    ]
    results = run_with_progress(run, jobs)
    if not is_train:
        return None
    stats = DctStats.from_moments(functools.reduce(Moments.merge, results), preprocessing)
    stats.save(folder / paths.DCT_STATS.name)
    return stats


def main(argv: list[str] | None = None) -> None:
    """Run the stage for one split or set: `gandct features <split>`."""
    parser = argparse.ArgumentParser(prog="gandct features", description=__doc__.splitlines()[0])
    parser.add_argument("split", choices=paths.FEATURE_SPLITS, help="which split to cache")
    args = parser.parse_args(argv)
    setup_logging()
    params = load_params()
    settings = params.features
    preprocessing = Preprocessing.from_params(settings)
    manifest = read_listing(paths.MANIFEST, "prepare")
    if args.split in paths.ATTRIBUTION_SPLITS:
        generated = {
            gan: read_listing(paths.generated_listing(gan), paths.generator_stage(gan)) for gan in paths.GENERATORS
        }
        items = attribution_items(manifest, generated, args.split, params.attribute.images_per_class)
    else:
        listings = split_generators(args.split, params.train.fakes)
        generated = {
            paths.generated_listing(gan): read_listing(paths.generated_listing(gan), paths.generator_stage(gan))
            for gan in listings
        }
        items = split_items(manifest, generated, args.split)
    check_files_exist(items)
    workers = settings.workers or os.cpu_count() or 1
    with (
        stop_cleanly_on_signals(),
        worker_pool(workers, __name__) as run,
        atomic_dir(paths.processed_split(args.split)) as staging,
    ):
        build_split(args.split, items, preprocessing, staging, run, settings.chunk_size, workers)
    counts = Counter(item.generator or ("real" if item.label == LABELS["real"] else "fake") for item in items)
    log.info("%s: %d images (%s)", args.split, len(items), ", ".join(f"{g}={n}" for g, n in sorted(counts.items())))
    log.info("wrote %s: DCT maps and images of shape %s", paths.processed_split(args.split), preprocessing.shape)


if __name__ == "__main__":
    run_command("features", main)
