"""What several test modules share: the repository path, small real images, tiny GAN params, a temporary
copy of the repository for `dvc repro`, cached features, hand-made PNG files. Fixtures live in conftest.py."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import yaml

from gandct import paths
from gandct.dct import DctStats, Moments, Preprocessing, frame_images, log_spectra

REPO = Path(__file__).resolve().parents[1]


# GANs (and the auto-encoder zoo) of a few steps at 16x16: enough to run every code path of the GAN stages in seconds.
# The features must fit in their fakes (features.image_size <= augment.resolution with crop: center).
TINY_AUGMENT = {
    "features": {"image_size": 16},
    "augment": {
        "resolution": 16,
        "checkpoint_seconds": 30.0,
        "progan": {
            "latent_size": 8,
            "channels": [8, 8, 4],
            "batch_sizes": [4, 4, 4],
            "stable_images": [8, 8, 8],
            "fade_images": [8, 8],
            "jit_compile": False,  # XLA's compile time would outweigh these few steps; test_progan covers it
        },
        "dcgan": {"latent_size": 8, "channels": [8, 4], "batch_size": 4, "images": 8},
    },
    "autogan": {"channels": [4, 8, 8], "crop": 8, "batch_size": 4, "images": 8},
}


def photo_like(rng: np.random.Generator, size: int = 64) -> np.ndarray:
    """A smooth, textured 8-bit RGB image with a decaying spectrum, like a small photograph."""
    noise = rng.normal(size=(size // 8, size // 8, 3))
    smooth = cv2.resize(noise, (size, size), interpolation=cv2.INTER_CUBIC)
    smooth += 0.05 * rng.normal(size=smooth.shape)
    scaled = (smooth - smooth.min()) / (np.ptp(smooth) + 1e-9)
    return (scaled * 255).astype(np.uint8)


def gan_like(rng: np.random.Generator, size: int = 64) -> np.ndarray:
    """A photo-like image with the checkerboard an up-sampling layer leaves behind."""
    rows, cols = np.indices((size, size))
    pattern = np.where((rows + cols) % 2, 12, -12)[:, :, None]
    return np.clip(photo_like(rng, size).astype(int) + pattern, 0, 255).astype(np.uint8)


def deep_update(base: dict, overrides: dict) -> dict:
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_update(base[key], value)
        else:
            base[key] = value
    return base


def pipeline_env() -> dict[str, str]:
    """Environment for running `gandct`/`dvc` as subprocesses with this interpreter's scripts first."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["DVC_NO_ANALYTICS"] = "1"
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    # Make the package under test importable in subprocesses even from a git worktree checkout.
    env["PYTHONPATH"] = f"{REPO / 'src'}{os.pathsep}{env.get('PYTHONPATH', '')}"
    return env


# Loads a .keras file in a Python that imports nothing from gandct, and saves what it makes of the latents.
PLAIN_KERAS_LOAD = """
import sys
import keras, numpy as np
model = keras.saving.load_model(sys.argv[1], safe_mode=True, compile=False)
assert not [name for name in sys.modules if name.startswith("gandct")]
assert model.__class__.__name__ == "Functional"
np.save(sys.argv[3], model(np.load(sys.argv[2])).numpy())
"""


def images_in_plain_keras(path: Path, latents: np.ndarray, tmp_path: Path) -> np.ndarray:
    """The images the saved generator at `path` makes, loaded in a fresh Python without gandct."""
    np.save(tmp_path / "latents.npy", latents)
    command = [
        sys.executable,
        "-c",
        PLAIN_KERAS_LOAD,
        str(path),
        str(tmp_path / "latents.npy"),
        str(tmp_path / "out.npy"),
    ]
    result = subprocess.run(command, env=pipeline_env(), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return np.load(tmp_path / "out.npy")


GIT_IDENTITY = ["-c", "user.name=gandct tests", "-c", "user.email=tests@gandct.invalid"]


class ProjectCopy:
    """A temporary copy of the repository's tracked files, with its own git and DVC state."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def set_params(self, overrides: dict) -> None:
        path = self.root / "params.yaml"
        params = deep_update(yaml.safe_load(path.read_text()), overrides)
        path.write_text(yaml.safe_dump(params, sort_keys=False))

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(args, cwd=self.root, env=pipeline_env(), capture_output=True, text=True)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    def commit(self, message: str) -> None:
        """Commit everything git does not ignore (a clone always has a commit; dvclive and dvc exp need one)."""
        subprocess.run(["git", "add", "-A"], cwd=self.root, check=True)
        subprocess.run(["git", *GIT_IDENTITY, "commit", "-qm", message], cwd=self.root, check=True)


def copy_project(destination: Path) -> ProjectCopy:
    """Copy the files git tracks (and new, not ignored ones) into a fresh, committed git repository."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    root = destination / "project"
    for name in filter(None, listed):
        source = REPO / name.decode()
        if source.is_file():
            target = root / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    project = ProjectCopy(root)
    project.commit("copy of the working tree")
    return project


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
        pixels = frame_images([(gan_like if label else photo_like)(rng, SIZE) for label in labels], preprocessing)
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
    params["features"].update(image_size=SIZE, color="gray")  # as write_features caches them
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
