"""A trained detector with what it needs to score images: its model, its DCT statistics, its input and its
threshold; or an attributor (which source made an image), with its class names instead of a threshold.
The default run's seed ensembles of `SHIPPED` come inside the package (`gandct/shipped/`), so a user scores
images right after installing, with no training: `load_detector("custom")`.

Every scorer (evaluate, report, predict, `gandct.load_detector`) goes through `Detector`, so an image
becomes the same model input everywhere: framed uint8 images -> `inputs` -> `predict_framed`. The
statistics saved beside the model (`paths.model_stats`) are the only ones it is ever paired with; the
threshold beside it (`paths.model_threshold`) was chosen on the val split when it was trained. An attributor
has its class names beside it instead (`paths.model_classes`), in the order of its outputs.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from gandct.dct import DctStats, cached_inputs, frame_image, input_shape, log_spectra
from gandct.detector_names import DCT, INPUT_KIND
from gandct.errors import GandctError
from gandct.images import ImageError, load_rgb
from gandct.models import OUTPUT_LAYERS, logit_model, output_layer, probabilities, source_probabilities
from gandct.paths import model_classes, model_stats, model_threshold

DEFAULT_BATCH = 256
DETECTION_CLASSES = ("real", "fake")
# The detectors that ship inside the package: copies of the default run's models/detectors/<name>.keras and the
# statistics and threshold beside each (a test checks them against the model files dvc.lock records).
SHIPPED = ("custom", "paper")


@dataclass(frozen=True, eq=False)
class Detector:
    """A loaded detector: `model` maps `inputs(framed)` to p_fake; `kind` is the input it reads (dct, pixels);
    an image is called fake when p_fake >= `threshold`. An attributor maps them to one probability per source of
    `classes` and has no threshold (`is_attributor`)."""

    name: str
    model: keras.Model
    stats: DctStats
    kind: str
    threshold: float | None
    classes: tuple[str, ...] = DETECTION_CLASSES
    _forward: Callable[[np.ndarray], tf.Tensor] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # One graph per detector, for any batch size (the signature leaves it open), so nothing retraces.
        # TensorFlow counts traces per Python function: every Keras predict function shares one code object,
        # so five detectors, traced once each, would already be reported as retracing; a partial of this
        # model counts on its own.
        signature = [tf.TensorSpec((None, *input_shape(self.kind, self.stats.preprocessing)), tf.float32)]
        forward = tf.function(functools.partial(logit_model(self.model), training=False), input_signature=signature)
        object.__setattr__(self, "_forward", forward)

    @classmethod
    def load(cls, model_path: Path | str) -> Detector:
        """The model at `model_path` (loaded with safe_mode) and the statistics and threshold saved beside it; a
        missing, unsafe, unknown or mismatched model, or a missing or bad threshold, is a GandctError naming the
        file."""
        model_path = Path(model_path)
        if not model_path.is_file():
            raise GandctError(f"{model_path}: no such model file")
        try:
            model = keras.saving.load_model(model_path, safe_mode=True)
        except Exception as err:
            message = f"{model_path}: not a gandct model that loads safely ({type(err).__name__}: {err})"
            raise GandctError(message) from None
        if model.name not in INPUT_KIND:
            raise GandctError(f"{model_path}: unknown detector {model.name!r}; expected one of {', '.join(INPUT_KIND)}")
        if not any(
            isinstance(layer, keras.layers.Activation) and layer.name in OUTPUT_LAYERS for layer in model.layers
        ):
            raise GandctError(
                f"{model_path}: no sigmoid layer `p_fake` after the logit, as every gandct detector has since the "
                "seed ensembles; a model saved before them must be trained again (dvc repro train)"
            )
        stats, kind = DctStats.load(model_stats(model_path)), INPUT_KIND[model.name]
        if tuple(model.input_shape[1:]) != input_shape(kind, stats.preprocessing):
            raise GandctError(
                f"{model_path} takes inputs of shape {tuple(model.input_shape[1:])} but its statistics describe "
                f"{stats.preprocessing.shape} images; the model and {model_stats(model_path)} do not belong together"
            )
        if output_layer(model).name == "p_fake":
            return cls(model.name, model, stats, kind, load_threshold(model_threshold(model_path)))
        classes = load_classes(model_classes(model_path), model.output_shape[-1])
        return cls(model.name, model, stats, kind, None, classes)

    @property
    def is_attributor(self) -> bool:
        """Whether the model tells the sources apart (a softmax over `classes`) rather than real from fake."""
        return self.threshold is None

    def inputs(self, framed: np.ndarray) -> np.ndarray:
        """The model's float32 input for a batch of framed uint8 images (N, H, W, C)."""
        rows = log_spectra(framed, self.stats.preprocessing.eps) if self.kind == DCT else framed
        return cached_inputs(rows, self.kind, self.stats)

    def frame(self, images: Sequence[Path | str | np.ndarray]) -> np.ndarray:
        """Image files or decoded uint8 RGB images (H, W, 3), framed as the features stage frames them: uint8
        (N, H, W, C). An unusable file raises ImageError naming it."""
        framed = np.empty((len(images), *self.stats.preprocessing.shape), np.uint8)
        for index, image in enumerate(images):
            if isinstance(image, np.ndarray):
                framed[index] = frame_image(image, self.stats.preprocessing)
                continue
            try:
                framed[index] = frame_image(load_rgb(image), self.stats.preprocessing)
            except ImageError as err:
                raise ImageError(f"{image}: {err}") from None
        return framed

    def all_logits_framed(self, framed: np.ndarray, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
        """The logits (float32, (N, outputs): one for a detector, one per class for an attributor) of framed
        uint8 images (N, H, W, C), which may be memory-mapped, scored `batch_size` images at a time."""
        logits = np.empty((len(framed), self.model.output_shape[-1]), np.float32)
        for start in range(0, len(framed), batch_size):
            rows = np.asarray(framed[start : start + batch_size])
            logits[start : start + len(rows)] = self._forward(self.inputs(rows)).numpy()
        return logits

    def logits_framed(self, framed: np.ndarray, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
        """A detector's logits (float32, N) of framed uint8 images (N, H, W, C)."""
        if self.is_attributor:
            raise GandctError(f"{self.name} is an attributor: score it with predict_sources, not as a detector")
        return self.all_logits_framed(framed, batch_size)[:, 0]

    def predict_sources_framed(self, framed: np.ndarray, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
        """An attributor's probability of each source of `classes` (float64, (N, classes)) of framed images."""
        if not self.is_attributor:
            raise GandctError(f"{self.name} is a detector: score it with predict, not as an attributor")
        return source_probabilities(self.all_logits_framed(framed, batch_size))

    def predict_sources(self, images: Sequence[Path | str | np.ndarray], batch_size: int = DEFAULT_BATCH) -> np.ndarray:
        """An attributor's probability of each source (float64, (N, classes)) of image files or decoded images."""
        return self.predict_sources_framed(self.frame(images), batch_size)

    def predict_framed(self, framed: np.ndarray, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
        """p_fake (float64, N) of framed uint8 images: the sigmoid of `logits_framed` in float64, so scores
        that rank differently never round to the same value."""
        return probabilities(self.logits_framed(framed, batch_size))

    def predict(self, images: Sequence[Path | str | np.ndarray], batch_size: int = DEFAULT_BATCH) -> np.ndarray:
        """p_fake (float64, N) of image files or decoded uint8 RGB images of any size."""
        return self.predict_framed(self.frame(images), batch_size)


def load_threshold(path: Path) -> float:
    """The `threshold` of a model's threshold file (JSON), a number in [0, 1], or a GandctError naming the file."""
    if not path.is_file():
        raise GandctError(f"{path} not found: the train stage saves the val-chosen threshold beside each model")
    try:
        threshold = json.loads(path.read_text())["threshold"]
    except (ValueError, KeyError, TypeError) as err:
        raise GandctError(f"{path}: not a threshold file ({type(err).__name__}: {err})") from None
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
        raise GandctError(f"{path}: threshold must be a number in [0, 1], got {threshold!r}")
    return float(threshold)


def load_classes(path: Path, outputs: int) -> tuple[str, ...]:
    """The class names of an attributor's classes file (JSON), one per output of its model, or a GandctError."""
    if not path.is_file():
        raise GandctError(f"{path} not found: the train_attribution stage saves the class names beside each model")
    try:
        classes = json.loads(path.read_text())["classes"]
    except (ValueError, KeyError, TypeError) as err:
        raise GandctError(f"{path}: not a classes file ({type(err).__name__}: {err})") from None
    if not isinstance(classes, list) or len(classes) != outputs or not all(isinstance(c, str) for c in classes):
        raise GandctError(f"{path}: classes must be {outputs} names, one per output of the model, got {classes!r}")
    return tuple(classes)


def shipped_model(name: str) -> Path:
    """The model file of the shipped detector `name` (one of SHIPPED), inside the installed package."""
    return Path(str(resources.files("gandct") / "shipped" / f"{name}.keras"))


def model_file(model: Path | str) -> Path:
    """The file a model argument names: a name of SHIPPED is the detector shipped inside the package, anything
    else a path (e.g. models/detectors/custom.keras, the run's own)."""
    return shipped_model(str(model)) if str(model) in SHIPPED else Path(model)


def load_detector(model: Path | str = "custom") -> Detector:
    """A trained detector, with its statistics and its val-chosen threshold: by name, one shipped inside the
    package (`SHIPPED`: "custom" or "paper", the default run's seed ensembles), or from a path (e.g. a run's own
    models/detectors/custom.keras); or an attributor (models/attributors/custom.keras), with its class names
    (`Detector.classes`)."""
    return Detector.load(model_file(model))
