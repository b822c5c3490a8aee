"""Pixel ranges of the generators: 8-bit images in and out, [-1, 1] inside the networks."""

from __future__ import annotations

import numpy as np


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Generator output in [-1, 1] (values outside are clipped) to 8-bit pixels."""
    return np.round((np.clip(images, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)


def to_unit_range(pixels: np.ndarray) -> np.ndarray:
    """8-bit pixels to float32 in [-1, 1], the range the generators produce."""
    return pixels.astype(np.float32) / 127.5 - 1.0
