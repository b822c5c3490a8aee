"""gandct.dct_heatmap and `gandct heatmap`: the features' own transform, drawn one PNG per image."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import gan_like, photo_like

import gandct
from gandct.commands import heatmap
from gandct.dct import Preprocessing, frame_image, log_spectra
from gandct.errors import GandctError
from gandct.images import ImageError, load_rgb, save_png


@pytest.fixture
def images(tmp_path):
    rng = np.random.default_rng(3)
    save_png(tmp_path / "photo.png", photo_like(rng, 48))
    save_png(tmp_path / "fake.png", gan_like(rng, 40))
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


def test_heatmap_is_the_features_transform(images):
    preprocessing = Preprocessing(image_size=32, crop="center", color="gray", jpeg_quality=None, eps=1e-3)
    framed = frame_image(load_rgb(images / "photo.png"), preprocessing)
    expected = log_spectra(framed[None], preprocessing.eps)[0, :, :, 0]
    np.testing.assert_array_equal(gandct.dct_heatmap(images / "photo.png", preprocessing), expected)
    whole = gandct.dct_heatmap(images / "fake.png")
    assert whole.shape == (40, 40)
    # the checkerboard of the fake puts its energy in the highest-frequency coefficient
    assert whole[-1, -1] == whole[20:, 20:].max()


def test_command_writes_one_figure_per_image_and_skips_unreadable_files(images, tmp_path, caplog):
    out = tmp_path / "maps"
    heatmap.main([str(images / "photo.png"), str(images / "notes.txt"), str(images / "fake.png"), "--out", str(out)])
    assert sorted(p.name for p in out.iterdir()) == ["fake_dct.png", "photo_dct.png"]
    assert all(p.stat().st_size > 20_000 for p in out.iterdir())
    assert "notes.txt: not a decodable image" in caplog.text


def test_only_unreadable_files_is_an_error(images, tmp_path):
    with pytest.raises(GandctError, match="no image could be read"):
        heatmap.main([str(images / "notes.txt"), "--out", str(tmp_path / "maps")])
    with pytest.raises(ImageError, match=r"notes\.txt: not a decodable image"):
        gandct.dct_heatmap(images / "notes.txt")
