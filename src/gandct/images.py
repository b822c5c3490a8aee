"""Image decoding: every stage reads pixels through `load_rgb`, so conversions are identical everywhere."""

from __future__ import annotations

import contextlib
import io
import os
import stat
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

# Largest image decoded (about 400 MB as 8-bit RGB). Checked from the file's header before decoding, so a
# small file that declares a huge image (a decompression bomb) is refused without allocating its pixels.
MAX_PIXELS = 1 << 27
# The header check below is the project's own, with its own limit; PIL's would refuse to even read the
# size of larger images (and warn below it), leaving nothing to name in the message.
Image.MAX_IMAGE_PIXELS = None
EXIF_ORIENTATION = 0x0112
# EXIF orientation (2..8) -> the transform that shows the stored pixels upright, as viewers display them.
UPRIGHT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.rot90(a, -1)[::-1],
    8: lambda a: np.rot90(a, 1),
}


class ImageError(ValueError):
    """A file that cannot be used as an image; the message is the reason recorded in rejected.csv."""


def read_header(data: bytes) -> tuple[int, int, int] | None:
    """(width, height, EXIF orientation) from the file's header, without decoding its pixels.

    None for a format PIL cannot read (OpenCV may still decode it). Orientation is 1 when absent or broken.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            # PIL decodes a whole PNG to look for an eXIf chunk after the pixels: read only one before them.
            orientation = 1
            if image.format != "PNG" or "exif" in image.info:
                with contextlib.suppress(Exception):  # a broken EXIF block: the pixels as stored
                    orientation = image.getexif().get(EXIF_ORIENTATION, 1)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        return None
    return width, height, orientation if orientation in UPRIGHT else 1


def file_format(data: bytes) -> str:
    """The encoding of an image file's bytes by their signature: jpeg, png, or other."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    return "jpeg" if data.startswith(b"\xff\xd8\xff") else "other"


def decode_rgb(data: bytes) -> np.ndarray:
    """Decode encoded image bytes to an 8-bit RGB array of shape (H, W, 3), upright.

    The size is checked from the header first (at most MAX_PIXELS). Gray images are replicated to three
    channels, the alpha channel of RGBA images is dropped, palette images are expanded by the decoder,
    16-bit images are scaled to 8 bits and the EXIF orientation is applied, so every source reaches the
    transform in the same form.
    """
    if not data:
        raise ImageError("empty file")
    header = read_header(data)
    if header is not None and header[0] * header[1] > MAX_PIXELS:
        raise ImageError(f"image too large: {header[0]}x{header[1]} (more than {MAX_PIXELS} pixels)")
    try:
        pixels = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as err:  # e.g. a format PIL cannot read whose size exceeds OpenCV's own limit
        raise ImageError(f"not a decodable image ({err.err or 'OpenCV error'})") from None
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
        rgb = np.repeat(pixels, 3, axis=2)
    elif channels == 3:
        rgb = cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)
    elif channels == 4:
        rgb = cv2.cvtColor(pixels, cv2.COLOR_BGRA2RGB)
    else:
        raise ImageError(f"unsupported channel count {channels}")
    orientation = header[2] if header is not None else 1
    if orientation in UPRIGHT:
        rgb = UPRIGHT[orientation](rgb)
    return np.ascontiguousarray(rgb)


# Entries that are neither files nor folders: reading a named pipe or a device can block forever.
SPECIAL_FILES = (
    (stat.S_ISFIFO, "named pipe"),
    (stat.S_ISSOCK, "socket"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
)


def special_kind(mode: int) -> str | None:
    """What an entry of this `st_mode` is when it is neither a regular file nor a folder, else None."""
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return next((name for is_kind, name in SPECIAL_FILES if is_kind(mode)), "special file")


def read_regular_file(path: Path) -> bytes:
    """The bytes of `path` if it is a regular file (after links); an ImageError, never a blocking read, if it
    is a named pipe, a socket or a device. Opened without blocking, then checked on the open file, so the
    entry cannot turn into a pipe between the check and the read."""
    if kind := special_kind(os.stat(path).st_mode):  # a socket cannot be opened at all
        raise ImageError(f"{kind}, not a regular file: not read")
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(descriptor, "rb") as handle:
        if kind := special_kind(os.fstat(descriptor).st_mode):
            raise ImageError(f"{kind}, not a regular file: not read")
        return handle.read()


def read_file(path: Path | str) -> bytes:
    """The bytes of one listed file; raise ImageError saying why it cannot be read."""
    path = Path(path)
    try:
        return read_regular_file(path)
    except OSError as err:
        reason = err.strerror or str(err)
    if path.is_symlink() and path.is_dir():  # only a loop is listed, see gandct.fileio.walk_files
        raise ImageError("symbolic link to a folder it is inside (a loop): not followed")
    if path.is_dir():
        raise ImageError(f"folder that cannot be listed: {reason}")
    if path.is_symlink():
        raise ImageError(f"broken symbolic link: {reason}")
    raise ImageError(f"unreadable: {reason}")


def load_rgb(path: Path | str) -> np.ndarray:
    """Read and decode one image file to 8-bit RGB; raise ImageError with the reason if unusable."""
    return decode_rgb(read_file(path))


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


VIEWS = ("center", "resize")  # features.crop


def view(rgb: np.ndarray, side: int, crop: str, size_key: str = "features.image_size") -> np.ndarray:
    """The one view every stage takes of an image (`features.crop`), side x side: "center" cuts the central
    square at native resolution; "resize" scales the largest central square (area averaging down, bicubic up).
    The GANs learn from this view of the photographs and the detectors read it of photographs and fakes alike,
    so neither class differs from the other by scale. An image too small for "center" is an ImageError that
    names `size_key`, the param that set `side`."""
    height, width = rgb.shape[:2]
    if crop == "center":
        if height < side or width < side:
            raise ImageError(
                f"{width}x{height} is smaller than {size_key}={side}; set features.crop: resize to scale small "
                "images up"
            )
        top, left = (height - side) // 2, (width - side) // 2
        return rgb[top : top + side, left : left + side]
    short = min(height, width)
    top, left = (height - short) // 2, (width - short) // 2
    square = rgb[top : top + short, left : left + short]
    if short == side:
        return square
    return cv2.resize(square, (side, side), interpolation=cv2.INTER_AREA if short > side else cv2.INTER_CUBIC)


def is_gray(rgb: np.ndarray) -> bool:
    """Whether an RGB image has no chroma (a gray file decodes to three equal channels)."""
    return bool(np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]))


def as_gray(rgb: np.ndarray) -> np.ndarray:
    """The image's luma (ITU-R BT.601, as OpenCV and the gray features compute it) in all three channels."""
    return np.repeat(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
