"""label_from_path reads (label, generator) from the folder names of a file's relative path."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from gandct.labels import label_from_path


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # real/ and fake/ folders, at the top or deeper
        ("real/0001.png", ("real", "")),
        ("fake/0001.png", ("fake", "unknown")),
        ("faces/real/0001.png", ("real", "")),
        ("faces/fake/0001.png", ("fake", "unknown")),
        ("REAL/0001.png", ("real", "")),
        # real_* / fake_* folders; the fake folder's other words name the generator
        ("real_images/0001.png", ("real", "")),
        ("fake_stylegan/0001.png", ("fake", "stylegan")),
        ("Fake-ProGAN/0001.png", ("fake", "progan")),
        ("fake.stylegan2/0001.png", ("fake", "stylegan2")),
        ("fake style gan/0001.png", ("fake", "style_gan")),
        ("fake_images/0001.png", ("fake", "unknown")),  # a generic word names no generator
        ("test_fake_faces_biggan/0001.png", ("fake", "biggan")),
        ("data/training_real/0001.png", ("real", "")),
        # the Kaggle "real and fake face" layout: the top folder names both labels, the next one decides
        ("real_and_fake_face/training_fake/easy_1.jpg", ("fake", "unknown")),
        ("real_and_fake_face/training_real/real_00001.jpg", ("real", "")),
        # the first labelled folder wins
        ("real/fake_stylegan/0001.png", ("real", "")),
        ("fake_progan/real/0001.png", ("fake", "progan")),
    ],
)
def test_labelled_layouts(path: str, expected: tuple[str, str]) -> None:
    assert label_from_path(PurePosixPath(path)) == expected


@pytest.mark.parametrize(
    "path",
    [
        "0001.png",
        "real.png",  # the file's own name is not a folder
        "images/fake_0001.png",
        "real_and_fake_face/0001.png",  # both words: no label
        "real-vs-fake/0001.png",
        "unreal/0001.png",  # words, not substrings
        "deepfake/0001.png",
        "fakes/0001.png",
        "surreal_art/0001.png",
    ],
)
def test_paths_without_a_label(path: str) -> None:
    assert label_from_path(PurePosixPath(path)) == ("", "")
