"""The embedded default's photographs: real photos that ship inside installed packages, and where a patch lies
in one. The download stage cuts the patches; the third_party stages run a generator on the whole photo and cut
the same patch from its output, so the network sees the photo's real context."""

from __future__ import annotations

import functools
import importlib.metadata
import struct
from dataclasses import dataclass

import numpy as np

from gandct import installed
from gandct.errors import GandctError
from gandct.images import decode_rgb, file_format

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Photo:
    """A photograph that ships inside an installed wheel."""

    group: str  # the split unit: views of one scene share it and never straddle splits
    stratum: str  # scene | texture | science: each split gets its share of each (prepare stage)
    origin: str  # the file's path inside site-packages, e.g. "skimage/data/astronaut.png"


# The motorcycle stereo pair shows one scene, so both views form one group. sporco's Kodak and test photos
# (BSD-3) and foolbox's ImageNet validation photos (ImageNet's terms; JPEG-compressed after resizing) are
# installed without their dependencies (requirements-photos.txt): only their files are read.
SAMPLE_PHOTOS = (
    *(
        Photo(group, stratum, f"skimage/data/{name}")
        for group, stratum, name in (
            ("astronaut", "scene", "astronaut.png"),
            ("brick", "texture", "brick.png"),
            ("camera", "scene", "camera.png"),
            ("cell", "science", "cell.png"),
            ("chelsea", "scene", "chelsea.png"),
            ("coffee", "scene", "coffee.png"),
            ("coins", "science", "coins.png"),
            ("grass", "texture", "grass.png"),
            ("gravel", "texture", "gravel.png"),
            ("hubble_deep_field", "science", "hubble_deep_field.jpg"),
            ("ihc", "science", "ihc.png"),
            ("moon", "science", "moon.png"),
            ("motorcycle", "scene", "motorcycle_left.png"),
            ("motorcycle", "scene", "motorcycle_right.png"),
            ("page", "science", "page.png"),
            ("retina", "science", "retina.jpg"),
            ("rocket", "scene", "rocket.jpg"),
        )
    ),
    Photo("china", "scene", "sklearn/datasets/images/china.jpg"),
    Photo("flower", "scene", "sklearn/datasets/images/flower.jpg"),
    Photo("grace_hopper", "scene", "matplotlib/mpl-data/sample_data/grace_hopper.jpg"),
    *(
        Photo(name, "scene", f"sporco/data/{name}.png")
        for name in ("barbara", "kodim23", "monarch", "sail", "tulips")
    ),
    *(
        Photo(f"imagenet_{name}", "scene", f"foolbox/data/imagenet_{name}.jpg")
        for name in (
            "00_243", "01_559", "02_438", "03_990", "04_949", "05_853", "06_609", "07_609", "08_915", "09_455",
            "10_541", "11_630", "12_741", "13_471", "14_129", "15_99", "16_251", "17_22", "18_317", "19_305",
        )
    ),
)  # fmt: skip


@functools.cache
def distribution_of(package: str) -> str:
    """The installed distribution that holds the top-level package `package` (e.g. skimage -> scikit-image)."""
    found = importlib.metadata.packages_distributions().get(package)
    if not found:
        raise GandctError(f"{package} is not installed: {installed.INSTALL_HINT}")
    return found[0]


def photo_bytes(photo_origin: str) -> bytes:
    """The file that files.csv's `origin` names, read from its installed wheel without importing the package
    (foolbox's and sporco's own code needs what the project does not install)."""
    return installed.package_file(distribution_of(photo_origin.split("/", 1)[0]), photo_origin).read_bytes()


def load_photo(photo_origin: str) -> np.ndarray:
    """The bundled photo that files.csv's `origin` names, as 8-bit RGB (H, W, 3)."""
    data = photo_bytes(photo_origin)
    return decode_rgb(without_colour_profile(data) if data.startswith(PNG_SIGNATURE) else data)


def origin_format(photo_origin: str) -> str:
    """The encoding of the bundled photo: jpeg or png (`images.file_format`)."""
    return file_format(photo_bytes(photo_origin))


def without_colour_profile(png: bytes) -> bytes:
    """The PNG less its iCCP chunks. The decoder ignores colour profiles, so the pixels are the same; but libpng
    prints a warning for `page.png`'s malformed one on every read, straight to the terminal."""
    kept, offset = [png[: len(PNG_SIGNATURE)]], len(PNG_SIGNATURE)
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        end = offset + 12 + length  # length, type, data, CRC
        if png[offset + 4 : offset + 8] != b"iCCP":
            kept.append(png[offset:end])
        offset = end
    return b"".join(kept)


@dataclass(frozen=True)
class Patch:
    """A square patch of a photo: its top-left corner, side, and whether it is mirrored left-right."""

    top: int
    left: int
    size: int
    flipped: bool

    def cut(self, photo: np.ndarray) -> np.ndarray:
        """The patch's pixels of `photo` (any array whose first two axes are the photo's)."""
        patch = photo[self.top : self.top + self.size, self.left : self.left + self.size]
        return np.ascontiguousarray(patch[:, ::-1] if self.flipped else patch)


def random_patches(shape: tuple[int, ...], count: int, size: int, rng: np.random.Generator) -> list[Patch]:
    """`count` square patches at random positions of a photo of `shape`, each mirrored with probability 1/2."""
    height, width = shape[:2]
    patches = []
    for _ in range(count):
        top = int(rng.integers(0, height - size + 1))
        left = int(rng.integers(0, width - size + 1))
        patches.append(Patch(top, left, size, bool(rng.random() < 0.5)))
    return patches
