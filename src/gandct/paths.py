"""Where each stage reads and writes, relative to the project root (DVC runs every stage from there).

These paths are the ones `dvc.yaml` declares; change them in both places together.
"""

from pathlib import Path

DATA = Path("data")
RAW = DATA / "raw"  # immutable: exactly what the download stage fetched or built
INTERIM = DATA / "interim"  # derived: manifests, generated fakes
PROCESSED = DATA / "processed"  # model-ready: cached feature arrays
EXTERNAL = DATA / "external"  # user-provided images for `data.source: folder`

RAW_FILES_NAME = "files.csv"  # the list of fetched files each raw source folder carries
MANIFEST = INTERIM / "manifest.csv"
REJECTED = INTERIM / "rejected.csv"
GENERATED = INTERIM / "generated"  # generated fakes: generated/<generator>/<split>/*.png
GENERATED_MANIFEST = INTERIM / "generated.csv"

MODELS = Path("models")
PROGAN_GENERATOR = MODELS / "progan" / "generator.keras"
DCGAN_GENERATOR = MODELS / "dcgan" / "generator.keras"
GAN_CHECKPOINTS = MODELS / "checkpoints"  # resumable GAN training states, kept across `dvc repro` (persist)
REPORTS = Path("reports")
FIGURES = REPORTS / "figures"
AUGMENT_REPORTS = REPORTS / "augment"  # GAN loss tables for `dvc plots` and the stage's phase timings


def raw_source_dir(source: str) -> Path:
    """The folder the download stage fills for a `data.source` value."""
    return RAW / source
