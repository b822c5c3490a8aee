"""Load and validate `params.yaml`: the one place every knob of the pipeline is declared.

Each stage calls `load_params()` and reads its own section. The schema below is strict: an unknown
key, a missing key or a value of the wrong type stops the stage with one message naming the key.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gandct.detector_names import ATTRIBUTION_MODELS, DCT, INPUT_KIND
from gandct.errors import ParamsError
from gandct.paths import GENERATORS

PARAMS_FILE = Path("params.yaml")


def each_once(values: list) -> list:
    """`values` if none repeats (a list param where a repeat would mean the same run twice)."""
    if len(set(values)) != len(values):
        raise ValueError("each value at most once")
    return values


class Section(BaseModel):
    # strict: "64" is not an int and 1 is not a bool; extra="forbid": a typo is an error, not a silent default.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class DataParams(Section):
    source: Literal["sample", "kaggle", "folder"]
    patch_size: int = Field(ge=8)
    patches_per_photo: int = Field(ge=1)
    kaggle_dataset: str = Field(pattern=r"^[\w.-]+/[\w.-]+$")
    folder: str


class SplitFractions(Section):
    train: float = Field(gt=0, lt=1)
    val: float = Field(gt=0, lt=1)
    test: float = Field(gt=0, lt=1)

    @model_validator(mode="after")
    def _sum_to_one(self) -> SplitFractions:
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + val + test must be 1, got {total:g}")
        return self


class PrepareParams(Section):
    min_size: int = Field(ge=8)
    split: SplitFractions
    min_per_split: int = Field(ge=1)


PositiveInt = Annotated[int, Field(ge=1)]
ImageCount = Annotated[int, Field(ge=0)]


def _phase_count(resolution: int) -> int:
    """Resolutions a ProGAN trains at on its way to `resolution`: 4, 8, ..., resolution."""
    return resolution.bit_length() - 2


class ProGANParams(Section):
    latent_size: int = Field(ge=1)
    channels: list[PositiveInt]  # one per resolution: 4x4, 8x8, ..., augment.resolution
    batch_sizes: list[PositiveInt]  # one per resolution
    stable_images: list[ImageCount]  # one per resolution
    fade_images: list[ImageCount]  # one per resolution after 4x4
    learning_rate: float = Field(gt=0)
    gp_weight: float = Field(ge=0)
    gp_interval: int = Field(ge=1)  # lazy penalty: every k-th critic step, weighted x k
    drift_weight: float = Field(ge=0)
    ema_beta: float = Field(ge=0, lt=1)
    mbstd_group: int = Field(ge=1)
    padding: Literal["zero", "reflect"]
    jit_compile: bool  # XLA-compile the training step


class DCGANParams(Section):
    latent_size: int = Field(ge=1)
    channels: list[PositiveInt]  # generator widths at 4x4, 8x8, ..., augment.resolution / 2
    batch_size: int = Field(ge=1)
    images: int = Field(ge=0)
    learning_rate: float = Field(gt=0)


class AugmentParams(Section):
    resolution: int = Field(ge=8)
    generator_path: str
    per_split: dict[Literal["train", "val", "test"], ImageCount]
    checkpoint_seconds: float = Field(gt=0)
    first_look: bool  # small budgets for a first look (make quick): the report says the fakes are not meant to pass
    progan: ProGANParams
    dcgan: DCGANParams

    @model_validator(mode="after")
    def _fit_resolution(self) -> AugmentParams:
        if self.resolution & (self.resolution - 1):
            raise ValueError(f"resolution must be a power of two, got {self.resolution}")
        count = _phase_count(self.resolution)
        progan = self.progan
        for name in ("channels", "batch_sizes", "stable_images"):
            if len(getattr(progan, name)) != count:
                raise ValueError(f"progan.{name} needs {count} values (4x4 to {self.resolution}x{self.resolution})")
        if len(progan.fade_images) != count - 1:
            raise ValueError(
                f"progan.fade_images needs {count - 1} values (8x8 to {self.resolution}x{self.resolution})"
            )
        if any(batch % min(progan.mbstd_group, batch) for batch in progan.batch_sizes):
            raise ValueError(f"progan.batch_sizes must be multiples of progan.mbstd_group={progan.mbstd_group}")
        if len(self.dcgan.channels) != count - 1:
            raise ValueError(
                f"dcgan.channels needs {count - 1} values (4x4 to {self.resolution // 2}x{self.resolution // 2})"
            )
        return self


class AutoGANParams(Section):
    channels: list[PositiveInt] = Field(min_length=2)  # encoder widths at full size, 1/2, 1/4, ...
    crop: int = Field(ge=2)  # side of the random training crops
    batch_size: int = Field(ge=1)
    images: int = Field(ge=0)  # crops shown in the whole run
    learning_rate: float = Field(gt=0)  # Adam


class QualityParams(Section):
    images_per_set: int = Field(ge=2)  # fewer if a set has fewer; the train reals give two disjoint halves
    neighbourhoods: int = Field(ge=1)  # random 7x7 neighbourhoods per image and pyramid level
    directions: int = Field(ge=1)  # random unit directions per repeat
    repeats: int = Field(ge=1)


class FeaturesParams(Section):
    image_size: int = Field(ge=8)
    crop: Literal["center", "resize"]
    color: Literal["gray", "rgb"]
    jpeg_quality: int | None = Field(ge=1, le=100)
    eps: float = Field(gt=0)
    chunk_size: int = Field(ge=1)
    workers: int = Field(ge=0)


class TrainPerturbParams(Section):
    """Perturbed train copies (both classes): each epoch every train image is perturbed with probability
    `share`, by one of the kinds that are on, at a level drawn uniformly from its [lowest, highest]."""

    share: float = Field(gt=0, le=1)
    jpeg: list[Annotated[int, Field(ge=1, le=100)]] | None  # JPEG quality
    blur: list[Annotated[float, Field(gt=0)]] | None  # Gaussian blur sigma, pixels
    noise: list[Annotated[float, Field(ge=0)]] | None  # Gaussian noise sigma, 0..255 scale

    @field_validator("jpeg", "blur", "noise")
    @classmethod
    def _range(cls, levels: list | None) -> list | None:
        if levels is not None and (len(levels) != 2 or levels[0] > levels[1]):
            raise ValueError(f"expected [lowest, highest] or null, got {levels}")
        return levels

    @model_validator(mode="after")
    def _some_kind(self) -> TrainPerturbParams:
        if not self.ranges():
            raise ValueError("jpeg, blur and noise are all null: turn one on, or set perturb: null")
        return self

    def ranges(self) -> dict[str, list]:
        """{kind: [lowest, highest]} of the kinds that are on, in perturbations.PERTURBATIONS' names."""
        kinds = [name for name in type(self).model_fields if name != "share"]
        return {kind: levels for kind in kinds if (levels := getattr(self, kind)) is not None}


class KerasTrainParams(Section):
    epochs: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    learning_rate: float = Field(gt=0)
    patience: int = Field(ge=1)  # early stopping on val loss; the best epoch's weights are kept
    perturb: TrainPerturbParams | None  # null: train on the images as they are


class CustomTrainParams(KerasTrainParams):
    width: int = Field(ge=1)  # filters of the first convolution block; later blocks double it
    dropout: float = Field(ge=0, lt=1)
    l2: float = Field(ge=0)
    linear_path: bool  # add a linear path from every coefficient to the logit


class LinearTrainParams(Section):
    l2_inverse: float = Field(gt=0)  # scikit-learn's C: smaller means stronger L2 regularisation
    max_iter: int = Field(ge=1)


class NeighboursTrainParams(Section):
    neighbours: int = Field(ge=1)  # k of the k-nearest-neighbour vote


class ImagenetTrainParams(KerasTrainParams):
    weights: Literal["none", "imagenet"]  # imagenet: only from the Keras cache, never downloaded


ModelName = Literal[tuple(INPUT_KIND)]


class TrainParams(Section):
    models: list[ModelName] = Field(min_length=1)  # the detectors dvc.yaml trains, evaluates and reports
    fakes: list[Literal[GENERATORS]] = Field(min_length=1)  # whose train/val fakes
    seeds: list[Annotated[int, Field(ge=0)]] = Field(min_length=1)  # each Keras detector trains once per seed
    strategy: Literal["default", "mirrored", "multiworker"]
    paper: KerasTrainParams
    custom: CustomTrainParams
    paper_pixel: KerasTrainParams
    linear: LinearTrainParams
    durall: LinearTrainParams
    dzanic: NeighboursTrainParams
    resnet152: ImagenetTrainParams
    densenet121: ImagenetTrainParams
    xception: ImagenetTrainParams
    nasnetmobile: ImagenetTrainParams
    inceptionresnetv2: ImagenetTrainParams

    _distinct_seeds = field_validator("seeds")(lambda cls, values: each_once(values))


class AttributeParams(Section):
    models: list[Literal[ATTRIBUTION_MODELS]] = Field(min_length=1)  # trained with train.<model>'s settings
    seeds: list[Annotated[int, Field(ge=0)]] = Field(min_length=1)  # each model trains once per seed
    images_per_class: int = Field(ge=1)  # train and val images per source, at most

    _distinct = field_validator("seeds", "models")(lambda cls, values: each_once(values))


class EvaluateParams(Section):
    # kind -> levels; every test image of both classes is perturbed before the transform, seeded by `seed`
    perturbations: dict[Literal["jpeg", "blur", "downscale", "noise"], list[float]]
    batch_size: int = Field(ge=1)
    bootstrap_resamples: int = Field(ge=10)  # paired bootstrap resamples of the test images, seeded by `seed`


class ReportParams(Section):
    examples_per_class: int = Field(ge=1)  # images per class in the sample grid and the saliency examples
    saliency_models: list[ModelName] = Field(min_length=1)  # detectors on DCT input whose saliency is shown
    smoothgrad_images: int = Field(ge=1)  # test images (seeded sample) whose SmoothGrad share is computed
    smooth_samples: int = Field(ge=1)  # noisy copies per image for SmoothGrad
    smooth_noise: float = Field(gt=0)  # SmoothGrad noise, as a fraction of the input's value range
    frequency_bands: int = Field(ge=2)  # diagonal frequency bands of the saliency and class-difference profiles


class Params(Section):
    seed: int = Field(ge=0)
    data: DataParams
    prepare: PrepareParams
    augment: AugmentParams
    autogan: AutoGANParams
    quality: QualityParams
    features: FeaturesParams
    train: TrainParams
    attribute: AttributeParams
    evaluate: EvaluateParams
    report: ReportParams

    @model_validator(mode="after")
    def _sections_agree(self) -> Params:
        # Checked when params load, so a run stops at its first stage instead of failing at the last one.
        untrained = [name for name in self.report.saliency_models if name not in self.train.models]
        if untrained:
            raise ValueError(
                f"report.saliency_models: {', '.join(untrained)} not in train.models {self.train.models}; "
                "train it too or drop it from report.saliency_models"
            )
        pixel = [name for name in self.report.saliency_models if INPUT_KIND[name] != DCT]
        if pixel:
            dct_models = ", ".join(name for name in self.train.models if INPUT_KIND[name] == DCT) or "none"
            raise ValueError(
                f"report.saliency_models: {', '.join(pixel)} reads pixels, but saliency is drawn on the DCT map; "
                f"name DCT detectors (in train.models: {dct_models})"
            )
        if len(set(self.train.fakes)) < len(self.train.fakes):
            raise ValueError(f"train.fakes: {self.train.fakes} names a generator twice")
        autogan = self.autogan
        if autogan.crop > self.augment.resolution or autogan.crop % 2 ** (len(autogan.channels) - 1):
            raise ValueError(
                f"autogan.crop={autogan.crop} must be at most augment.resolution={self.augment.resolution} and a "
                f"multiple of {2 ** (len(autogan.channels) - 1)}, since {len(autogan.channels)} autogan.channels "
                f"halve the image {len(autogan.channels) - 1} times"
            )
        # One view: the GANs learn the features.crop view of the photographs at augment.resolution, and the
        # detectors take that view of photographs and fakes at features.image_size, never larger than the fakes.
        features, resolution = self.features, self.augment.resolution
        if features.image_size > resolution:
            why = {
                "center": "so no generated fake can be cropped",
                "resize": "so the fakes would be scaled up to the detectors' view and the photographs not",
            }[features.crop]
            raise ValueError(
                f"features.image_size={features.image_size} is larger than augment.resolution={resolution} with "
                f"features.crop: {features.crop}, {why}; lower features.image_size or raise augment.resolution"
            )
        return self


def _format_error(err: ValidationError, path: Path) -> str:
    # A misspelt key is both an unknown key and a missing one: name the unknown one, with its closest valid name.
    errors = sorted(err.errors(), key=lambda error: error["type"] != "extra_forbidden")
    first = errors[0]
    if not first["loc"] and first["type"] == "value_error":  # a check across sections: its message names the keys
        return f"{path}: {first['msg'].removeprefix('Value error, ')}"
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    explained = 1
    if first["type"] == "extra_forbidden":
        section: type[BaseModel] | None = Params
        for part in first["loc"][:-1]:
            field = section.model_fields.get(str(part)) if section else None
            annotation = field.annotation if field else None
            section = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
        valid = list(section.model_fields) if section else []
        close = difflib.get_close_matches(str(first["loc"][-1]), valid, n=1)
        if close:
            closest = (*first["loc"][:-1], close[0])
            detail = f"unknown key; did you mean {'.'.join(map(str, closest))}?"
            explained += any(error["type"] == "missing" and error["loc"] == closest for error in errors)
        else:
            detail = "unknown key (check the spelling against docs/params.md)"
    elif first["type"] == "missing":
        detail = "missing key"
    elif isinstance(first.get("input"), dict):  # a whole section failed a cross-key check: the message says which
        detail = first["msg"].removeprefix("Value error, ")
    else:
        detail = f"{first['msg'].removeprefix('Value error, ')}, got {first.get('input')!r}"
    more = len(errors) - explained
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{path}: {key}: {detail}{suffix}"


def parse_params(raw: object, source: Path = PARAMS_FILE) -> Params:
    """Validate an already-parsed params mapping; raise ParamsError naming the first bad key."""
    if not isinstance(raw, dict):
        raise ParamsError(f"{source}: expected a mapping of sections, got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as err:
        raise ParamsError(_format_error(err, source)) from None


def load_params(path: Path | str = PARAMS_FILE) -> Params:
    """Read and validate `params.yaml` (relative to the working directory, as DVC runs stages)."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: not found; run from the project root (where dvc.yaml is)")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ParamsError(f"{path}: not valid YAML: {err}") from None
    return parse_params(raw, path)
