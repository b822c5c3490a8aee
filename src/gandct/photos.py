"""The embedded default's photographs: real photos that ship inside installed packages, and where a patch lies
in one. The download stage cuts the patches; the third_party stages run a generator on the whole photo and cut
the same patch from its output, so the network sees the photo's real context."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from importlib import resources

import numpy as np

from gandct.images import decode_rgb

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# (group, package, file inside the package): real photographs shipped in the wheels of our dependencies.
# The motorcycle stereo pair shows one scene, so both views form one group and never straddle splits.
SAMPLE_PHOTOS = (
    ("astronaut", "skimage", "data/astronaut.png"),
    ("brick", "skimage", "data/brick.png"),
    ("camera", "skimage", "data/camera.png"),
    ("cell", "skimage", "data/cell.png"),
    ("chelsea", "skimage", "data/chelsea.png"),
    ("coffee", "skimage", "data/coffee.png"),
    ("coins", "skimage", "data/coins.png"),
    ("grass", "skimage", "data/grass.png"),
    ("gravel", "skimage", "data/gravel.png"),
    ("hubble_deep_field", "skimage", "data/hubble_deep_field.jpg"),
    ("ihc", "skimage", "data/ihc.png"),
    ("moon", "skimage", "data/moon.png"),
    ("motorcycle", "skimage", "data/motorcycle_left.png"),
    ("motorcycle", "skimage", "data/motorcycle_right.png"),
    ("page", "skimage", "data/page.png"),
    ("retina", "skimage", "data/retina.jpg"),
    ("rocket", "skimage", "data/rocket.jpg"),
    ("china", "sklearn", "datasets/images/china.jpg"),
    ("flower", "sklearn", "datasets/images/flower.jpg"),
    ("grace_hopper", "matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),
)


def origin(package: str, inside: str) -> str:
    """How files.csv names a bundled photo: "<package>/<file inside it>"."""
    return f"{package}/{inside}"


def load_photo(photo_origin: str) -> np.ndarray:
    """The bundled photo that files.csv's `origin` names, as 8-bit RGB (H, W, 3)."""
    package, inside = photo_origin.split("/", 1)
    data = (resources.files(package) / inside).read_bytes()
    return decode_rgb(without_colour_profile(data) if data.startswith(PNG_SIGNATURE) else data)


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
