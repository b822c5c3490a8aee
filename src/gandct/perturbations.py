"""Image perturbations for robustness tests and perturbed training copies, applied to framed 8-bit images
(H, W, C) with C = 1 or 3.

Each one returns a new uint8 array of the same shape. They model what happens to images in the wild:
lossy re-encoding, blur, down-scaling, sensor noise. `jpeg` is also what `features.jpeg_quality` applies
to every image before the transform.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np

# kind -> what its level means; `perturb_image` dispatches on these names.
PERTURBATIONS = {
    "jpeg": "JPEG quality, 1..100",
    "blur": "Gaussian blur sigma, in pixels",
    "downscale": "integer factor to scale down by and back up",
    "noise": "Gaussian noise sigma, on the 0..255 scale",
}


def _check_image(image: np.ndarray) -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (1, 3):
        raise ValueError(f"expected a uint8 image of shape (H, W, 1 or 3), got {image.dtype} {image.shape}")


def _like(result: np.ndarray, image: np.ndarray) -> np.ndarray:
    """OpenCV returns single-channel images as (H, W); give them back their channel axis."""
    return np.ascontiguousarray(result.reshape(image.shape))


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode as JPEG at `quality` (1..100, OpenCV's default 4:2:0 chroma sub-sampling) and decode again."""
    _check_image(image)
    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be in 1..100, got {quality}")
    is_rgb = image.shape[2] == 3
    pixels = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if is_rgb else image
    ok, encoded = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError(f"could not JPEG-encode an image of shape {image.shape}")
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR if is_rgb else cv2.IMREAD_GRAYSCALE)
    return _like(cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB) if is_rgb else decoded, image)


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Blur with a Gaussian of standard deviation `sigma` pixels (kernel size chosen by OpenCV, mirrored edges)."""
    _check_image(image)
    if sigma <= 0:
        raise ValueError(f"blur sigma must be positive, got {sigma}")
    blurred = cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT_101)
    return _like(blurred, image)


def downscale(image: np.ndarray, factor: int = 2) -> np.ndarray:
    """Scale down by `factor` (area averaging) and back up to the original size (bilinear)."""
    _check_image(image)
    height, width = image.shape[:2]
    if factor < 2 or height < factor or width < factor:
        raise ValueError(f"cannot scale a {width}x{height} image down by {factor}")
    small = cv2.resize(image, (width // factor, height // factor), interpolation=cv2.INTER_AREA)
    return _like(cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR), image)


def gaussian_noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Add Gaussian noise of standard deviation `sigma` (0..255 scale), then round and clip to 8 bits."""
    _check_image(image)
    if sigma < 0:
        raise ValueError(f"noise sigma must not be negative, got {sigma}")
    noisy = image + rng.normal(0.0, sigma, size=image.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


# Kinds whose level is a whole number.
WHOLE_NUMBER_LEVELS = ("jpeg", "downscale")


def _check_perturbation(kind: str, level: float) -> None:
    """Refuse an unknown kind, or a fractional level for a kind that takes a whole number."""
    if kind not in PERTURBATIONS:
        raise ValueError(f"unknown perturbation {kind!r}; expected one of {', '.join(PERTURBATIONS)}")
    if kind in WHOLE_NUMBER_LEVELS and level != int(level):
        raise ValueError(f"{kind} takes a whole number ({PERTURBATIONS[kind]}), got {level}")


def perturb_image(image: np.ndarray, kind: str, level: float, rng: np.random.Generator) -> np.ndarray:
    """One perturbation of one image (H, W, C); `rng` drives the noise."""
    if kind == "jpeg":
        return jpeg(image, int(level))
    if kind == "blur":
        return gaussian_blur(image, float(level))
    if kind == "downscale":
        return downscale(image, int(level))
    if kind == "noise":
        return gaussian_noise(image, float(level), rng)
    raise ValueError(f"unknown perturbation {kind!r}; expected one of {', '.join(PERTURBATIONS)}")


def perturb_batch(images: np.ndarray, kind: str, level: float, seed: int) -> np.ndarray:
    """Apply one perturbation to every image of a batch (N, H, W, C); `seed` drives the noise.

    The same images, kind, level and seed always give the same result.
    """
    _check_perturbation(kind, level)
    rng = np.random.default_rng(seed)
    return np.stack([perturb_image(image, kind, level, rng) for image in images]) if len(images) else images.copy()


def perturb_randomly(
    images: np.ndarray, ranges: Mapping[str, Sequence[float]], share: float, rng: np.random.Generator
) -> np.ndarray:
    """A copy of a batch (N, H, W, C) in which each image, with probability `share`, gets one perturbation:
    a kind of `ranges` ({kind: [lowest, highest]}) chosen uniformly, at a level drawn uniformly from its range
    (whole numbers for jpeg and downscale). Used on train images, as Frank et al. 2020 trained their robust
    detectors."""
    kinds = list(ranges)
    if not kinds or any(kind not in PERTURBATIONS for kind in kinds):
        raise ValueError(f"ranges must name perturbations of {', '.join(PERTURBATIONS)}, got {kinds}")
    perturbed = np.array(images, copy=True)
    for index in np.flatnonzero(rng.random(len(perturbed)) < share):
        kind = kinds[rng.integers(len(kinds))]
        lowest, highest = ranges[kind]
        if kind in WHOLE_NUMBER_LEVELS:
            level = int(rng.integers(lowest, highest + 1))
        else:
            level = float(rng.uniform(lowest, highest))
        perturbed[index] = perturb_image(perturbed[index], kind, level, rng)
    return perturbed
