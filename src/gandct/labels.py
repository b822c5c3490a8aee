"""Labels from folder names: `real/` and `fake/` folders, and the `real_*` / `fake_*` layout."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

# Words that describe a folder's role, not the generator that made its images.
_GENERIC_WORDS = {"images", "imgs", "img", "image", "faces", "face", "data", "train", "training", "test", "val"}


def label_from_path(relative: PurePosixPath) -> tuple[str, str]:
    """Return (label, generator) from the first folder whose name has exactly one of the words real/fake.

    Folder names split into words at "_", "-", "." and spaces: `real`, `fake_stylegan`,
    `training_real` and `Fake-ProGAN` label their files; `real_and_fake_face` names both and does not.
    The generator is the fake folder's other word (`fake_stylegan` -> "stylegan") or "unknown";
    ("", "") means no folder of the path carries a label.
    """
    for folder in relative.parts[:-1]:
        words = [w for w in re.split(r"[_\-.\s]+", folder.lower()) if w]
        labels = {"real", "fake"}.intersection(words)
        if len(labels) != 1:
            continue
        label = labels.pop()
        if label == "real":
            return "real", ""
        named = [w for w in words if w != "fake" and w not in _GENERIC_WORDS]
        return "fake", ("_".join(named) if named else "unknown")
    return "", ""
