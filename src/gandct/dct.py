"""The one preprocessing path from a decoded RGB image to the detectors' inputs.

    frame: crop or resize to `image_size`, gray or RGB, optional JPEG re-encode  -> uint8 (H, W, C)
    dct: 2-D DCT-II, orthonormal, of each channel over the whole image           -> float64
    log: log(|x| + eps)                                                          -> float32
    z-score: per coefficient, with mean and std of the train split (DctStats)    -> float32
    pixels: the framed image scaled to [-1, 1]                                   -> float32

The features stage caches the framed uint8 images and their log spectra; the z-score and the pixel scaling
are applied when a model reads them (`cached_inputs`, with the statistics saved beside the model), so a new
image becomes exactly the arrays the models were trained on. Batch functions take (N, H, W, C) arrays; a
framed image can be perturbed (see `gandct.perturbations`) before `dct_features` and `scale_pixels`.
In the DCT map, coefficient [0, 0] (top-left) is the image mean and [H-1, W-1] (bottom-right) the highest
frequency in both directions, where the up-sampling traces of GAN generators show.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import scipy.fft

from gandct.detector_names import DCT, POWER_LAW, RADIAL
from gandct.errors import GandctError
from gandct.fileio import write_npz
from gandct.images import VIEWS, ImageError, load_rgb, view
from gandct.perturbations import jpeg
from gandct.radial_spectrum import POWER_LAW_FEATURES, azimuthal_profiles, power_law_features

if TYPE_CHECKING:
    from gandct.params import FeaturesParams

# The transform's float64 working arrays are cut into blocks of at most this many values (2 MiB): memory stays
# flat whatever the batch size, and blocks this small are recycled by the allocator instead of being mapped
# afresh each time (fresh pages cost more than the arithmetic: at 256x256, 32 MiB blocks made the stage 30-40% slower).
BLOCK_VALUES = 1 << 18
# A coefficient whose train std is below this is constant over the train split: it is centred, not scaled.
MIN_STD = 1e-6
# eps for `dct_heatmap` without preprocessing: the params.yaml default.
DEFAULT_EPS = 1e-3

STATS_KEYS = ("mean", "std", "count", "image_size", "crop", "color", "jpeg_quality", "eps")


@dataclass(frozen=True)
class Preprocessing:
    """How an image becomes a model input (the transform part of the `features` params)."""

    image_size: int
    crop: str  # "center" | "resize"
    color: str  # "gray" | "rgb"
    jpeg_quality: int | None
    eps: float

    def __post_init__(self) -> None:
        if self.crop not in VIEWS or self.color not in ("gray", "rgb"):
            raise ValueError(f"unknown crop {self.crop!r} or color {self.color!r}")
        if self.image_size < 1 or self.eps <= 0:
            raise ValueError(f"image_size and eps must be positive, got {self.image_size} and {self.eps}")

    @classmethod
    def from_params(cls, features: FeaturesParams) -> Preprocessing:
        """The preprocessing the `features` section of params.yaml asks for."""
        return cls(features.image_size, features.crop, features.color, features.jpeg_quality, features.eps)

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape (H, W, C) of one framed image and of its DCT map."""
        return (self.image_size, self.image_size, 1 if self.color == "gray" else 3)


def frame_image(rgb: np.ndarray, preprocessing: Preprocessing) -> np.ndarray:
    """Bring a decoded 8-bit RGB image (H, W, 3) to the model's input: uint8 (size, size, C).

    First the one view of the image (`images.view`): crop "center" cuts the central square and needs both sides
    >= image_size; "resize" scales the largest central square. Then gray (ITU-R 601 luma) or RGB, then the
    optional JPEG re-encode. Raises ImageError for an image too small to center-crop.
    """
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected a uint8 RGB image (H, W, 3), got {rgb.dtype} {rgb.shape}")
    framed = view(rgb, preprocessing.image_size, preprocessing.crop)
    if preprocessing.color == "gray":
        framed = cv2.cvtColor(framed, cv2.COLOR_RGB2GRAY)[:, :, None]
    framed = np.ascontiguousarray(framed)
    if preprocessing.jpeg_quality is not None:
        framed = jpeg(framed, preprocessing.jpeg_quality)
    return framed


def frame_images(rgbs: Sequence[np.ndarray], preprocessing: Preprocessing) -> np.ndarray:
    """`frame_image` on each image: a uint8 batch (N, size, size, C)."""
    framed = np.empty((len(rgbs), *preprocessing.shape), dtype=np.uint8)
    for index, rgb in enumerate(rgbs):
        framed[index] = frame_image(rgb, preprocessing)
    return framed


def _blocks(count: int, values_per_item: int) -> Iterator[slice]:
    step = max(1, BLOCK_VALUES // max(1, values_per_item))
    for start in range(0, count, step):
        yield slice(start, min(start + step, count))


def _check_batch(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"expected a batch of images (N, H, W, C), got shape {images.shape}")
    return images


def dct2(images: np.ndarray) -> np.ndarray:
    """Orthonormal 2-D DCT-II of each channel of each image of a batch (N, H, W, C), in float64.

    float64 because in float32 the rounding error of a 64x64 8-bit image's transform (about 1e-3) is as
    large as eps and would swing the log of near-zero coefficients.
    """
    images = _check_batch(images)
    return scipy.fft.dctn(images.astype(np.float64), type=2, norm="ortho", axes=(1, 2), overwrite_x=True)


def log_spectra(images: np.ndarray, eps: float) -> np.ndarray:
    """log(|DCT-II| + eps) of each image of a batch (N, H, W, C): float32, same shape.

    Computed in blocks, so memory does not grow with the batch beyond the float32 result.
    """
    images = _check_batch(images)
    spectra = np.empty(images.shape, dtype=np.float32)
    for block in _blocks(len(images), int(np.prod(images.shape[1:]))):
        # The coefficients go to float32 (relative error 6e-8, far below eps) before abs, eps and log:
        # these run several times faster in float32.
        magnitudes = spectra[block]
        magnitudes[...] = dct2(images[block])
        np.abs(magnitudes, out=magnitudes)
        magnitudes += np.float32(eps)
        np.log(magnitudes, out=magnitudes)
    return spectra


def scale_pixels(images: np.ndarray) -> np.ndarray:
    """A uint8 batch (N, H, W, C) scaled to float32 in [-1, 1] (0 -> -1, 255 -> 1)."""
    pixels = _check_batch(images).astype(np.float32)
    pixels /= np.float32(127.5)
    pixels -= np.float32(1.0)
    return pixels


@dataclass(frozen=True, eq=False)
class Moments:
    """Count, mean and sum of squared deviations per coefficient, over a set of images.

    Sets are merged pairwise (Chan, Golub and LeVeque's formula), in float64, which stays accurate where
    the sum-of-squares formula loses its digits to cancellation.
    """

    count: int
    mean: np.ndarray
    m2: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray) -> Moments:
        """Moments over the first axis of a non-empty batch."""
        values = np.asarray(values)
        if len(values) == 0:
            raise ValueError("no values to take moments of")
        count = len(values)
        mean = values.sum(axis=0, dtype=np.float64) / count
        # Deviations are taken from the mean rounded to the values' own precision, so float32 batches are
        # never copied to float64; the shift term corrects for the rounding: sum (x - c)^2 = m2 + n (mean - c)^2.
        centre = mean.astype(np.float32 if values.dtype == np.float32 else np.float64)
        m2 = np.zeros(mean.shape, dtype=np.float64)
        for block in _blocks(count, int(np.prod(values.shape[1:]))):
            deviations = values[block] - centre
            np.square(deviations, out=deviations)
            m2 += deviations.sum(axis=0, dtype=np.float64)
        m2 -= count * (mean - centre) ** 2
        return cls(count, mean, np.maximum(m2, 0.0))

    def merge(self, other: Moments) -> Moments:
        """The moments of the union of both sets."""
        count = self.count + other.count
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.count / count)
        m2 = self.m2 + other.m2 + delta**2 * (self.count * other.count / count)
        return Moments(count, mean, m2)

    @property
    def std(self) -> np.ndarray:
        """Population standard deviation per coefficient."""
        return np.sqrt(self.m2 / self.count)


@dataclass(frozen=True, eq=False)
class DctStats:
    """Per-coefficient mean and std of the train split's log spectra, with the preprocessing behind them."""

    preprocessing: Preprocessing
    mean: np.ndarray  # float32 (H, W, C)
    std: np.ndarray  # float32 (H, W, C), never below MIN_STD
    count: int  # train images they were computed on

    @classmethod
    def from_moments(cls, moments: Moments, preprocessing: Preprocessing) -> DctStats:
        """Statistics from the moments of the train split's log spectra."""
        std = moments.std
        std = np.where(std < MIN_STD, 1.0, std)
        return cls(preprocessing, moments.mean.astype(np.float32), std.astype(np.float32), moments.count)

    def normalize(self, spectra: np.ndarray) -> np.ndarray:
        """Z-score a float32 batch of log spectra (N, H, W, C) with these statistics: float32."""
        spectra = _check_batch(spectra)
        if spectra.shape[1:] != self.mean.shape:
            raise ValueError(f"log spectra of shape {spectra.shape[1:]} do not match statistics of {self.mean.shape}")
        normalized = spectra.astype(np.float32)  # a copy: the caller's array is left alone
        normalized -= self.mean
        normalized /= self.std
        return normalized

    def check_matches(self, preprocessing: Preprocessing) -> None:
        """Refuse to apply these statistics to features made with other preprocessing."""
        differences = [
            f"{name}={getattr(self.preprocessing, name)!r} (params: {getattr(preprocessing, name)!r})"
            for name in ("image_size", "crop", "color", "jpeg_quality", "eps")
            if getattr(self.preprocessing, name) != getattr(preprocessing, name)
        ]
        if differences:
            raise GandctError(
                f"the DCT statistics were computed with {', '.join(differences)}; "
                "run the features stages again (dvc repro features)"
            )

    def save(self, path: Path) -> None:
        """Write to an `.npz` file (atomically, byte-identical for identical statistics)."""
        prep = self.preprocessing
        arrays = {
            "mean": self.mean,
            "std": self.std,
            "count": np.int64(self.count),
            "image_size": np.int64(prep.image_size),
            "crop": np.str_(prep.crop),
            "color": np.str_(prep.color),
            "jpeg_quality": np.int64(0 if prep.jpeg_quality is None else prep.jpeg_quality),  # 0: off
            "eps": np.float64(prep.eps),
        }
        write_npz(path, arrays)

    @classmethod
    def load(cls, path: Path | str) -> DctStats:
        """Read statistics written by `save`; a missing or foreign file is a GandctError."""
        path = Path(path)
        if not path.is_file():
            raise GandctError(f"{path} not found; run the features stage first (dvc repro features@train)")
        try:
            with np.load(path, allow_pickle=False) as archive:
                fields = {key: archive[key] for key in archive.files}
        except (OSError, ValueError) as err:
            raise GandctError(f"{path}: not a DCT statistics file ({err})") from None
        missing = [key for key in STATS_KEYS if key not in fields]
        if missing:
            raise GandctError(f"{path}: not a DCT statistics file (missing {', '.join(missing)})")
        quality = int(fields["jpeg_quality"])
        preprocessing = Preprocessing(
            image_size=int(fields["image_size"]),
            crop=str(fields["crop"]),
            color=str(fields["color"]),
            jpeg_quality=quality or None,
            eps=float(fields["eps"]),
        )
        mean, std = fields["mean"].astype(np.float32), fields["std"].astype(np.float32)
        if mean.shape != preprocessing.shape or std.shape != preprocessing.shape:
            raise GandctError(f"{path}: mean/std of shape {mean.shape} do not match {preprocessing}")
        return cls(preprocessing, mean, std, int(fields["count"]))


def dct_features(images: np.ndarray, stats: DctStats) -> np.ndarray:
    """The DCT input of the detectors for a batch of framed uint8 images (N, H, W, C): float32."""
    return stats.normalize(log_spectra(images, stats.preprocessing.eps))


def cached_inputs(rows: np.ndarray, kind: str, stats: DctStats) -> np.ndarray:
    """A detector's float32 input from rows of the feature cache: log spectra are z-scored with `stats`,
    uint8 images are scaled to [-1, 1] or become their radial Fourier profile; `kind` is the input the
    detector reads (detector_names)."""
    if kind == DCT:
        return stats.normalize(rows)
    if kind == RADIAL:
        return azimuthal_profiles(rows)
    return power_law_features(rows) if kind == POWER_LAW else scale_pixels(rows)


def input_shape(kind: str, preprocessing: Preprocessing) -> tuple[int, ...]:
    """The shape of one input of a detector reading `kind` from images framed with `preprocessing`."""
    return {RADIAL: (preprocessing.image_size,), POWER_LAW: (POWER_LAW_FEATURES,)}.get(kind, preprocessing.shape)


def dct_heatmap(image_path: Path | str, preprocessing: Preprocessing | None = None) -> np.ndarray:
    """The log-magnitude DCT map of one image file: float32 (H, W), lowest frequency top-left.

    With `preprocessing` (e.g. `gandct.load_detector("models/detectors/custom.keras").stats.preprocessing`) the image is
    framed as the detectors see it and the map is averaged over its channels; without, the whole image is
    transformed in gray at its own size with eps = 1e-3. Raises ImageError naming the file if it is unusable.
    """
    try:
        rgb = load_rgb(image_path)
        if preprocessing is None:
            framed, eps = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[:, :, None], DEFAULT_EPS
        else:
            framed, eps = frame_image(rgb, preprocessing), preprocessing.eps
    except ImageError as err:
        raise ImageError(f"{image_path}: {err}") from None
    return log_spectra(framed[None], eps)[0].mean(axis=2)
