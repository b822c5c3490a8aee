"""Image decoding: every stage reads pixels through `load_rgb`, so conversions are identical everywhere."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


class ImageError(ValueError):
    """A file that cannot be used as an image; the message is the reason recorded in rejected.csv."""


def decode_rgb(data: bytes) -> np.ndarray:
    """Decode encoded image bytes to an 8-bit RGB array of shape (H, W, 3).

    Gray images are replicated to three channels, the alpha channel of RGBA images is dropped,
    palette images are expanded by the decoder and 16-bit images are scaled to 8 bits, so every
    source reaches the transform in the same form.
    """
    if not data:
        raise ImageError("empty file")
    pixels = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if pixels is None:
        raise ImageError("not a decodable image")
    if pixels.dtype == np.uint16:
        pixels = np.round(pixels.astype(np.float32) / 257.0).astype(np.uint8)
    elif pixels.dtype != np.uint8:
        raise ImageError(f"unsupported pixel type {pixels.dtype}")
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    channels = pixels.shape[2]
    if channels == 1:
        return np.ascontiguousarray(np.repeat(pixels, 3, axis=2))
    if channels == 3:
        return cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)
    if channels == 4:
        return cv2.cvtColor(pixels, cv2.COLOR_BGRA2RGB)
    raise ImageError(f"unsupported channel count {channels}")


def load_rgb(path: Path | str) -> np.ndarray:
    """Read and decode one image file to 8-bit RGB; raise ImageError with the reason if unusable."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise ImageError(f"unreadable: {err.strerror or err}") from None
    return decode_rgb(data)


def encode_png(rgb: np.ndarray) -> bytes:
    """Encode an 8-bit RGB or gray array as lossless PNG bytes."""
    pixels = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) if rgb.ndim == 3 else rgb
    ok, encoded = cv2.imencode(".png", pixels)
    if not ok:
        raise OSError("could not encode an image as PNG")
    return encoded.tobytes()


def save_png(path: Path, rgb: np.ndarray) -> None:
    """Write an 8-bit RGB or gray array as a lossless PNG."""
    Path(path).write_bytes(encode_png(rgb))
