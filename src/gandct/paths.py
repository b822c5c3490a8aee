"""Where each stage reads and writes, relative to the project root (DVC runs every stage from there).

These paths are the ones `dvc.yaml` declares; change them in both places together.
"""

from pathlib import Path

DATA = Path("data")
RAW = DATA / "raw"  # immutable: exactly what the download stage fetched or built
INTERIM = DATA / "interim"  # derived: manifests, generated fakes
PROCESSED = DATA / "processed"  # model-ready: cached feature arrays

RAW_FILES_NAME = "files.csv"  # the list of fetched files each raw source folder carries
MANIFEST = INTERIM / "manifest.csv"
REJECTED = INTERIM / "rejected.csv"
GENERATED_DIR = INTERIM / "generated"  # generated fakes: generated/<generator>/<split>/*.png
GENERATED = INTERIM / "generated.csv"  # the augment stage's fakes, same columns as the manifest
DCT_STATS = PROCESSED / "dct_stats.npz"  # train-split statistics of the log DCT spectra

MODELS = Path("models")
PROGAN_GENERATOR = MODELS / "progan" / "generator.keras"
DCGAN_GENERATOR = MODELS / "dcgan" / "generator.keras"
GAN_CHECKPOINTS = MODELS / "checkpoints"  # resumable GAN training states, kept across `dvc repro` (persist)
REPORTS = Path("reports")
FIGURES = REPORTS / "figures"
AUGMENT_REPORTS = REPORTS / "augment"  # GAN loss tables for `dvc plots` and the stage's phase timings


def model_stats(model_path: Path) -> Path:
    """The DCT statistics saved beside a trained model: models/custom.keras -> models/custom.dct_stats.npz."""
    return model_path.with_name(model_path.name.removesuffix(".keras") + ".dct_stats.npz")


def generated_dir(generator: str) -> Path:
    """The PNG fakes of one generator stage: data/interim/generated/<generator>/<split>/*.png."""
    return GENERATED_DIR / generator


def generated_listing(generator: str) -> Path:
    """The list of one generator stage's fakes, with the manifest's columns."""
    return GENERATED_DIR / f"{generator}.csv"


def raw_source_dir(source: str) -> Path:
    """The folder the download stage fills for a `data.source` value."""
    return RAW / source


FEATURE_SPLITS = ("train", "val", "test", "test_unseen")  # test_unseen: test reals + fakes of an unseen GAN


def features_file(split: str, kind: str, folder: Path = PROCESSED) -> Path:
    """A file of the features stage: kind is "dct.npy", "pixels.npy", "y.npy" or "ids.csv"."""
    return folder / f"{split}_{kind}"
