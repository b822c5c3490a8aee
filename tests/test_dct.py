"""The DCT / preprocessing module: the transform against its textbook definition, where energy lands, the
fit of images to the model input, the train statistics and their file."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft
from helpers import photo_like

from gandct import dct
from gandct.dct import DctStats, Moments, Preprocessing
from gandct.errors import GandctError
from gandct.images import ImageError, save_png
from gandct.perturbations import jpeg

GRAY64 = Preprocessing(image_size=64, crop="center", color="gray", jpeg_quality=None, eps=1e-3)


def textbook_dct2(image: np.ndarray) -> np.ndarray:
    """DCT-II with orthonormal scaling of one 2-D array, as a direct double sum over its pixels."""
    height, width = image.shape
    out = np.zeros((height, width))
    for k in range(height):
        for j in range(width):
            total = 0.0
            for m in range(height):
                for n in range(width):
                    total += (
                        image[m, n]
                        * np.cos(np.pi * (2 * m + 1) * k / (2 * height))
                        * np.cos(np.pi * (2 * n + 1) * j / (2 * width))
                    )
            scale_k = np.sqrt((1 if k == 0 else 2) / height)
            scale_j = np.sqrt((1 if j == 0 else 2) / width)
            out[k, j] = scale_k * scale_j * total
    return out


def test_dct2_equals_the_textbook_double_sum_per_channel():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(2, 5, 7, 3)) * 50 + 100  # odd, non-square sides; three channels
    coefficients = dct.dct2(images)
    assert coefficients.dtype == np.float64
    for index in range(2):
        for channel in range(3):
            expected = textbook_dct2(images[index, :, :, channel])
            np.testing.assert_allclose(coefficients[index, :, :, channel], expected, rtol=0, atol=1e-9)


def test_orthonormal_dct3_restores_the_input_and_energy_is_kept():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(3, 16, 12, 1)).astype(np.uint8)
    coefficients = dct.dct2(images)
    restored = scipy.fft.dctn(coefficients, type=3, norm="ortho", axes=(1, 2))
    np.testing.assert_allclose(restored, images, rtol=0, atol=1e-9)
    np.testing.assert_allclose((coefficients**2).sum(), (images.astype(np.float64) ** 2).sum(), rtol=1e-12)


def test_a_constant_image_puts_all_energy_top_left():
    image = np.full((1, 64, 64, 1), 200, dtype=np.uint8)
    coefficients = dct.dct2(image)[0, :, :, 0]
    assert coefficients[0, 0] == pytest.approx(200 * 64)  # sqrt(H * W) times the mean
    rest = coefficients.copy()
    rest[0, 0] = 0
    assert np.abs(rest).max() < 1e-9
    spectrum = dct.log_spectra(image, eps=1e-3)[0, :, :, 0]
    assert np.unravel_index(spectrum.argmax(), spectrum.shape) == (0, 0)
    assert spectrum[5, 7] == pytest.approx(np.log(1e-3), abs=1e-6)  # a zero coefficient is log(eps)


def test_a_checkerboard_puts_its_energy_bottom_right():
    rows, cols = np.indices((64, 64))
    board = (((rows + cols) % 2) * 255).astype(np.uint8)[None, :, :, None]
    energy = dct.dct2(board)[0, :, :, 0] ** 2
    energy[0, 0] = 0  # the mean (127.5) is the only other thing in the image
    assert np.unravel_index(energy.argmax(), energy.shape) == (63, 63)
    assert energy[63, 63] > 0.6 * energy.sum()


def test_log_spectra_is_log_of_magnitude_plus_eps_in_float32():
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, size=(4, 32, 32, 3)).astype(np.uint8)
    spectra = dct.log_spectra(images, eps=0.01)
    assert spectra.dtype == np.float32
    assert spectra.shape == images.shape
    expected = np.log(np.abs(dct.dct2(images)) + 0.01)
    np.testing.assert_allclose(spectra, expected, rtol=1e-6, atol=1e-6)


def test_log_spectra_gives_the_same_result_whatever_the_block_size(monkeypatch):
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, size=(9, 16, 16, 1)).astype(np.uint8)
    whole = dct.log_spectra(images, eps=1e-3)
    monkeypatch.setattr(dct, "BLOCK_VALUES", 2 * 16 * 16)  # two images per block
    np.testing.assert_array_equal(dct.log_spectra(images, eps=1e-3), whole)
    np.testing.assert_array_equal(dct.log_spectra(images[4:5], eps=1e-3), whole[4:5])


def test_scale_pixels_maps_0_to_minus_1_and_255_to_1():
    images = np.array([0, 51, 255], dtype=np.uint8).reshape(1, 1, 3, 1)
    pixels = dct.scale_pixels(images)
    assert pixels.dtype == np.float32
    np.testing.assert_allclose(pixels.ravel(), [-1.0, 51 / 127.5 - 1, 1.0], rtol=0, atol=1e-7)


# --- fitting an image to the model input ---------------------------------------------------------------


def test_center_crop_takes_the_central_square_and_gray_is_luma():
    rgb = np.zeros((100, 80, 3), dtype=np.uint8)
    rgb[18:82, 8:72] = (255, 0, 0)  # exactly the central 64x64 square, pure red
    framed = dct.frame_image(rgb, GRAY64)
    assert framed.shape == (64, 64, 1) and framed.dtype == np.uint8
    assert np.all(framed == 76)  # ITU-R 601: 0.299 * 255
    as_rgb = dct.frame_image(rgb, Preprocessing(64, "center", "rgb", None, 1e-3))
    assert as_rgb.shape == (64, 64, 3)
    assert np.all(as_rgb == (255, 0, 0))


def test_center_crop_refuses_a_small_image_and_resize_scales_it():
    small = photo_like(np.random.default_rng(4), 48)
    with pytest.raises(ImageError, match=r"48x48 is smaller than features.image_size=64.*crop: resize"):
        dct.frame_image(small, GRAY64)
    resized = dct.frame_image(small, Preprocessing(64, "resize", "rgb", None, 1e-3))
    assert resized.shape == (64, 64, 3)


def test_resize_keeps_the_aspect_by_cutting_the_central_square():
    rgb = np.zeros((128, 256, 3), dtype=np.uint8)
    rgb[:, 64:192] = 255  # the central 128x128 square is white, the sides black
    framed = dct.frame_image(rgb, Preprocessing(32, "resize", "gray", None, 1e-3))
    assert framed.shape == (32, 32, 1)
    assert np.all(framed == 255)


def test_jpeg_quality_re_encodes_the_fitted_image():
    rgb = photo_like(np.random.default_rng(5), 64)
    plain = dct.frame_image(rgb, GRAY64)
    encoded = dct.frame_image(rgb, Preprocessing(64, "center", "gray", 50, 1e-3))
    np.testing.assert_array_equal(encoded, jpeg(plain, 50))
    assert not np.array_equal(encoded, plain)


def test_fit_image_rejects_what_is_not_decoded_rgb():
    with pytest.raises(ValueError, match="uint8 RGB"):
        dct.frame_image(np.zeros((64, 64), dtype=np.uint8), GRAY64)
    with pytest.raises(ValueError, match="uint8 RGB"):
        dct.frame_image(np.zeros((64, 64, 3), dtype=np.float32), GRAY64)


# --- train statistics ---------------------------------------------------------------------------------


def test_moments_merged_chunk_by_chunk_equal_the_two_pass_result_despite_a_large_offset():
    rng = np.random.default_rng(6)
    values = (1e5 + rng.normal(size=(1000, 4, 4, 1))).astype(np.float64)  # variance 1 on top of 1e5
    merged = Moments.of(values[:1])
    for start in range(1, 1000, 37):
        merged = merged.merge(Moments.of(values[start : start + 37]))
    assert merged.count == 1000
    np.testing.assert_allclose(merged.mean, values.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(merged.std, values.std(axis=0), rtol=1e-9)
    # The textbook one-pass formula loses most digits here; the merged moments must not.
    naive = np.sqrt((values**2).mean(axis=0) - values.mean(axis=0) ** 2)
    assert np.abs(merged.std - values.std(axis=0)).max() < 1e-3 * np.abs(naive - values.std(axis=0)).max()


def test_stats_z_score_to_mean_0_std_1_and_a_constant_coefficient_stays_finite():
    rng = np.random.default_rng(7)
    spectra = rng.normal(3.0, 2.0, size=(200, 8, 8, 1)).astype(np.float32)
    spectra[:, 0, 0, 0] = 5.0  # constant over the train split
    stats = DctStats.from_moments(Moments.of(spectra), Preprocessing(8, "center", "gray", None, 1e-3))
    normalized = stats.normalize(spectra)
    assert normalized.dtype == np.float32
    np.testing.assert_allclose(normalized[:, 1:, 1:].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(normalized[:, 1:, 1:].std(axis=0), 1, atol=1e-4)
    assert stats.std[0, 0, 0] == 1.0
    assert np.all(normalized[:, 0, 0, 0] == 0)


def small_stats(preprocessing: Preprocessing) -> DctStats:
    spectra = dct.log_spectra(np.random.default_rng(8).integers(0, 256, (10, *preprocessing.shape), np.uint8), 1e-3)
    return DctStats.from_moments(Moments.of(spectra), preprocessing)


def test_stats_file_round_trips_with_its_preprocessing_and_is_byte_stable(tmp_path):
    preprocessing = Preprocessing(16, "resize", "rgb", 90, 0.01)
    stats = small_stats(preprocessing)
    stats.save(tmp_path / "a.npz")
    stats.save(tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    loaded = DctStats.load(tmp_path / "a.npz")
    assert loaded.preprocessing == preprocessing
    assert loaded.count == 10
    np.testing.assert_array_equal(loaded.mean, stats.mean)
    np.testing.assert_array_equal(loaded.std, stats.std)
    unencoded = DctStats.load(_saved(tmp_path / "c.npz", small_stats(GRAY64)))
    assert unencoded.preprocessing.jpeg_quality is None


def _saved(path, stats):
    stats.save(path)
    return path


def test_stats_refuse_other_preprocessing_naming_the_difference():
    stats = small_stats(GRAY64)
    stats.check_matches(GRAY64)
    with pytest.raises(GandctError, match=r"color='gray' \(params: 'rgb'\).*dvc repro features"):
        stats.check_matches(Preprocessing(64, "center", "rgb", None, 1e-3))
    with pytest.raises(GandctError, match=r"jpeg_quality=None \(params: 75\)"):
        stats.check_matches(Preprocessing(64, "center", "gray", 75, 1e-3))


def test_loading_a_missing_or_foreign_stats_file_is_a_clear_error(tmp_path):
    with pytest.raises(GandctError, match="not found; run the features stage"):
        DctStats.load(tmp_path / "none.npz")
    np.savez(tmp_path / "other.npz", mean=np.zeros(3))
    with pytest.raises(GandctError, match="missing std"):
        DctStats.load(tmp_path / "other.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(GandctError, match="not a DCT statistics file"):
        DctStats.load(tmp_path / "junk.npz")


def test_model_inputs_are_fit_then_features_then_pixels():
    """The cache holds framed images and their log spectra; a model reads them z-scored or scaled."""
    rng = np.random.default_rng(9)
    rgbs = [photo_like(rng, 80), photo_like(rng, 64)]
    stats = small_stats(GRAY64)
    framed = dct.frame_images(rgbs, GRAY64)
    np.testing.assert_array_equal(framed, np.stack([dct.frame_image(rgb, GRAY64) for rgb in rgbs]))
    spectra = dct.log_spectra(framed, 1e-3)
    features = dct.cached_inputs(spectra, "dct", stats)
    np.testing.assert_array_equal(features, dct.dct_features(framed, stats))
    np.testing.assert_array_equal(features, (spectra - stats.mean) / stats.std)
    np.testing.assert_array_equal(dct.cached_inputs(framed, "pixels", stats), dct.scale_pixels(framed))


# --- the public heat map ---------------------------------------------------------------------------------


def test_dct_heatmap_shows_a_periodic_pattern_bottom_right(tmp_path):
    import gandct

    rng = np.random.default_rng(10)
    smooth = photo_like(rng, 96)
    rows, cols = np.indices((96, 96))
    periodic = np.clip(smooth.astype(int) + np.where((rows + cols) % 2, 25, -25)[:, :, None], 0, 255)
    save_png(tmp_path / "smooth.png", smooth)
    save_png(tmp_path / "periodic.png", periodic.astype(np.uint8))

    whole = gandct.dct_heatmap(tmp_path / "smooth.png")
    assert whole.shape == (96, 96) and whole.dtype == np.float32
    assert np.unravel_index(whole.argmax(), whole.shape) == (0, 0)
    framed = gandct.dct_heatmap(tmp_path / "periodic.png", GRAY64)
    assert framed.shape == (64, 64)
    assert gandct.dct_heatmap(tmp_path / "periodic.png")[-1, -1] > whole[-1, -1] + 3  # e^3: 20 times the magnitude
    with pytest.raises(ImageError, match=r"missing\.png: unreadable"):
        gandct.dct_heatmap(tmp_path / "missing.png")
