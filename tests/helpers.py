"""Small real inputs several test modules build: cached features, tiny train params, hand-made PNG files."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import yaml
from conftest import REPO, gan_like, photo_like

from gandct import paths
from gandct.dct import DctStats, Moments, Preprocessing, fit_images, log_spectra

SIZE = 16


def write_features(root: Path) -> None:
    """A feature cache as the features stage writes it, of small images: reals are smooth photo-like
    textures, fakes the same with an up-sampling checkerboard (energy in the high-frequency corner of the DCT
    map, as GAN images carry); the log spectra are the images' own and the statistics the train split's."""
    rng = np.random.default_rng(0)
    preprocessing = Preprocessing(image_size=SIZE, crop="center", color="gray", jpeg_quality=None, eps=1e-3)
    for split, count in (("train", 160), ("val", 48), ("test", 48)):
        folder = root / paths.processed_split(split)
        folder.mkdir(parents=True)
        labels = (np.arange(count) % 2).astype(np.float32)
        pixels = fit_images([(gan_like if label else photo_like)(rng, SIZE) for label in labels], preprocessing)
        spectra = log_spectra(pixels, preprocessing.eps)
        np.save(folder / "dct.npy", spectra)
        np.save(folder / "pixels.npy", pixels)
        np.save(folder / "y.npy", labels)
        if split == "train":
            DctStats.from_moments(Moments.of(spectra), preprocessing).save(root / paths.DCT_STATS)


def write_tiny_params(root: Path, **train_overrides) -> None:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for name in ("paper", "custom", "paper_pixel"):
        params["train"][name].update(epochs=8, batch_size=16, patience=3)
    params["train"]["xception"].update(epochs=1, batch_size=32)
    params["train"]["custom"].update(width=4, learning_rate=0.005)  # a few epochs must do on 160 images
    params["train"]["seeds"] = [0, 1]
    params["features"]["image_size"] = SIZE
    params["train"].update(train_overrides)
    (root / "params.yaml").write_text(yaml.safe_dump(params))


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int, height: int) -> bytes:
    """A valid gray PNG of zeros: a few hundred kB on disk, width * height bytes once decoded."""
    compressor = zlib.compressobj(9)
    row = b"\0" * (width + 1)  # filter byte + pixels
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", body) + png_chunk(b"IEND", b"")


def palette_png(rgb: np.ndarray) -> bytes:
    """Encode an image as an 8-bit palette PNG (colour type 3) with the standard library only."""
    colours, indices = np.unique(rgb.reshape(-1, 3) // 32 * 32, axis=0, return_inverse=True)
    height, width = rgb.shape[:2]
    rows = indices.reshape(height, width).astype(np.uint8)
    raw = b"".join(b"\0" + row.tobytes() for row in rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"PLTE", colours.astype(np.uint8).tobytes())
        + png_chunk(b"IDAT", zlib.compress(raw))
        + png_chunk(b"IEND", b"")
    )
