"""The perturbations of robustness tests, on small real 8-bit images."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import photo_like

from gandct import perturbations
from gandct.dct import dct2


@pytest.fixture
def photo() -> np.ndarray:
    return photo_like(np.random.default_rng(0), 64)


def high_frequency_energy(image: np.ndarray) -> float:
    """Energy of the DCT coefficients in the highest-frequency quarter (bottom-right quadrant)."""
    coefficients = dct2(image[None])[0]
    half = image.shape[0] // 2
    return float((coefficients[half:, half:] ** 2).sum())


# Gray: quality 100 only rounds. RGB: 4:2:0 chroma sub-sampling (what cameras and most encoders do) also
# averages the colour of 2x2 blocks, which costs about 2 levels on this image's strong colour noise.
@pytest.mark.parametrize(("channels", "tolerance"), [(1, 0.25), (3, 2.5)])
def test_jpeg_at_quality_100_is_near_identity_and_low_quality_is_not(photo, channels, tolerance):
    image = np.ascontiguousarray(photo[:, :, :channels])
    best = perturbations.jpeg(image, 100)
    worst = perturbations.jpeg(image, 5)
    assert best.shape == image.shape and best.dtype == np.uint8
    assert np.abs(best.astype(int) - image).mean() < tolerance
    assert np.abs(worst.astype(int) - image).mean() > 3 * tolerance


def test_jpeg_rejects_a_quality_out_of_range(photo):
    with pytest.raises(ValueError, match=r"1\.\.100"):
        perturbations.jpeg(photo, 0)


def test_blur_lowers_high_frequency_energy_and_keeps_the_mean(photo):
    blurred = perturbations.gaussian_blur(photo, 1.5)
    assert blurred.shape == photo.shape and blurred.dtype == np.uint8
    assert high_frequency_energy(blurred) < 0.2 * high_frequency_energy(photo)
    assert abs(float(blurred.mean()) - float(photo.mean())) < 1.0


def test_downscale_by_2_and_back_removes_a_checkerboard_and_keeps_the_size():
    rows, cols = np.indices((33, 31))  # odd sides: the result must still be 33x31
    board = (((rows + cols) % 2) * 200 + 20).astype(np.uint8)[:, :, None]
    restored = perturbations.downscale(board, 2)
    assert restored.shape == board.shape and restored.dtype == np.uint8
    assert restored.std() < 0.1 * board.std()


def test_noise_with_a_seed_is_reproducible_and_has_the_asked_sigma():
    gray = np.full((64, 64, 1), 128, dtype=np.uint8)
    first = perturbations.gaussian_noise(gray, 5.0, np.random.default_rng(1))
    again = perturbations.gaussian_noise(gray, 5.0, np.random.default_rng(1))
    other = perturbations.gaussian_noise(gray, 5.0, np.random.default_rng(2))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert first.dtype == np.uint8
    assert (first.astype(float) - 128).std() == pytest.approx(5.0, rel=0.1)


def test_noise_is_clipped_to_8_bits():
    white = np.full((16, 16, 3), 255, dtype=np.uint8)
    noisy = perturbations.gaussian_noise(white, 30.0, np.random.default_rng(3))
    assert noisy.max() == 255 and noisy.min() < 255


def test_perturb_batch_applies_each_kind_to_every_image_reproducibly(photo):
    rng = np.random.default_rng(4)
    batch = np.stack([photo, photo_like(rng, 64)])
    for kind, level in (("jpeg", 30), ("blur", 1.0), ("downscale", 2), ("noise", 4.0)):
        out = perturbations.perturb_batch(batch, kind, level, seed=7)
        assert out.shape == batch.shape and out.dtype == np.uint8
        assert not np.array_equal(out, batch)
        np.testing.assert_array_equal(out, perturbations.perturb_batch(batch, kind, level, seed=7))
    np.testing.assert_array_equal(
        perturbations.perturb_batch(batch, "jpeg", 30, seed=0)[1], perturbations.jpeg(batch[1], 30)
    )


def test_perturb_batch_refuses_unknown_kinds_and_fractional_levels(photo):
    with pytest.raises(ValueError, match="unknown perturbation 'rotate'"):
        perturbations.perturb_batch(photo[None], "rotate", 1, seed=0)
    with pytest.raises(ValueError, match="whole number"):
        perturbations.perturb_batch(photo[None], "jpeg", 50.5, seed=0)


def test_perturbations_refuse_images_that_are_not_framed_uint8(photo):
    with pytest.raises(ValueError, match="uint8 image"):
        perturbations.gaussian_blur(photo.astype(np.float32), 1.0)
    with pytest.raises(ValueError, match="uint8 image"):
        perturbations.jpeg(photo[:, :, 0], 90)


def test_random_perturbations_follow_the_seed_the_share_and_the_ranges(photo):
    images = np.stack([np.ascontiguousarray(photo[:, :, :1])] * 200)
    ranges = {"jpeg": [60, 70], "noise": [2.0, 3.0]}

    def draw(seed: int, share: float) -> np.ndarray:
        return perturbations.perturb_randomly(images, ranges, share, np.random.default_rng(seed))

    first = draw(0, 0.5)
    np.testing.assert_array_equal(first, draw(0, 0.5))  # the seed fixes every draw
    assert not np.array_equal(first, draw(1, 0.5))
    changed = (first != images).any(axis=(1, 2, 3))
    assert 70 <= changed.sum() <= 130  # about half of 200
    assert (draw(0, 1.0) != images).any(axis=(1, 2, 3)).all()  # share 1: every image is perturbed
    # Each changed image is one of the allowed perturbations: a JPEG at a quality in range, or noise whose
    # standard deviation is in range.
    jpegs = {quality: perturbations.jpeg(images[0], quality) for quality in range(60, 71)}
    for image in first[changed]:
        is_jpeg = any(np.array_equal(image, encoded) for encoded in jpegs.values())
        residual = image.astype(float) - images[0]
        assert is_jpeg or 1.5 < residual.std() < 3.5
    np.testing.assert_array_equal(images[0], photo[:, :, :1])  # the input is left alone


def test_random_perturbations_refuse_an_unknown_kind_and_take_any_known_one(photo):
    with pytest.raises(ValueError, match="must name perturbations of jpeg, blur, downscale, noise"):
        perturbations.perturb_randomly(photo[None], {"rotate": [1, 2]}, 1.0, np.random.default_rng(0))
    downscaled = perturbations.perturb_randomly(photo[None], {"downscale": [2, 2]}, 1.0, np.random.default_rng(0))
    np.testing.assert_array_equal(downscaled[0], perturbations.downscale(photo, 2))
