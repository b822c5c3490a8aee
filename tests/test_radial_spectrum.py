"""The spectral baselines' inputs: Durall et al.'s radial profile and Dzanic et al.'s power-law features, on
images whose spectrum is known."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from gandct import radial_spectrum
from gandct.radial_spectrum import (
    azimuthal_profiles,
    power_law_exponent,
    power_law_features,
    ring_means,
    smooth,
)

SIDE = 64


def noise_image(rng: np.random.Generator, blur: float = 0.0) -> np.ndarray:
    """uint8 (1, SIDE, SIDE, 1) of grey noise, Gaussian-blurred by `blur` pixels (0: sharp)."""
    image = rng.normal(128, 30, (SIDE, SIDE))
    if blur:
        image = cv2.GaussianBlur(image, (0, 0), blur)
    return np.clip(np.round(image), 0, 255)[None, :, :, None].astype(np.uint8)


def power_law_image(exponent: float, rng: np.random.Generator) -> np.ndarray:
    """uint8 (1, SIDE, SIDE, 1) whose Fourier magnitude falls as radius ** exponent (random phases)."""
    rows, columns = np.indices((SIDE, SIDE))
    radius = np.hypot(rows - SIDE // 2, columns - SIDE // 2)
    magnitude = np.where(radius > 0, np.maximum(radius, 1.0) ** exponent, 0.0)
    spectrum = np.fft.ifftshift(magnitude * np.exp(2j * np.pi * rng.uniform(size=magnitude.shape)))
    image = np.fft.ifft2(spectrum).real
    image = (image - image.mean()) / image.std() * 40 + 128
    return np.clip(np.round(image), 0, 255)[None, :, :, None].astype(np.uint8)


def test_ring_means_average_each_ring_of_integer_radius_around_the_shifted_zero_frequency():
    means = ring_means(8, 8)
    assert means.shape == (64, int(np.hypot(4, 4)) + 1)
    np.testing.assert_allclose(means.sum(axis=0), 1.0)
    assert np.flatnonzero(means[:, 0]).tolist() == [4 * 8 + 4]  # ring 0: the zero frequency alone
    assert np.count_nonzero(means[:, 1]) == 8  # ring 1: its 4 neighbours (distance 1) and 4 diagonals (1.41)


def test_the_profile_starts_at_1_and_a_blurred_image_loses_its_high_frequencies():
    rng = np.random.default_rng(0)
    sharp, blurred = azimuthal_profiles(np.concatenate([noise_image(rng), noise_image(rng, blur=1.0)]))
    assert sharp.shape == (SIDE,) and sharp[0] == pytest.approx(1.0) and blurred[0] == pytest.approx(1.0)
    # white noise: flat beyond the zero frequency
    assert np.ptp(sharp[SIDE // 8 : -2]) < 0.06  # the last rings, in the corners, hold a few coefficients each
    # blurred: falls with the radius (to the 8-bit rounding floor), far below the sharp one at the top
    assert blurred[3 * SIDE // 4] < blurred[SIDE // 4] - 0.1
    assert blurred[SIDE // 2 :].mean() < sharp[SIDE // 2 :].mean() - 0.2


def test_rgb_and_gray_of_the_same_picture_give_the_same_profile():
    gray = noise_image(np.random.default_rng(0), blur=0.5)
    rgb = np.repeat(gray, 3, axis=-1)
    np.testing.assert_allclose(azimuthal_profiles(rgb), azimuthal_profiles(gray), rtol=1e-6)


def test_smooth_is_a_moving_average_whose_span_shrinks_at_the_ends():
    values = np.array([1.0, 2.0, 4.0, 8.0, 16.0, 32.0])
    expected = [1.0, 7 / 3, 31 / 5, 62 / 5, 56 / 3, 32.0]  # spans 1, 3, 5, 5, 3, 1
    np.testing.assert_allclose(smooth(values), expected)


def test_the_power_law_fit_recovers_the_exponent_of_an_exact_power_law():
    x = np.linspace(0.85, 1.0, 20)
    for exponent in (-1.5, -3.0, -6.0):
        assert power_law_exponent(x, 7.0 * x**exponent) == pytest.approx(exponent, abs=1e-3)


def test_a_steeper_spectrum_gives_a_steeper_fitted_decay_and_lower_high_frequency_magnitudes():
    # At 64 px the fitted range holds few coefficients per bin, so one image's exponent is noisy: compare means.
    rng = np.random.default_rng(0)
    flat = power_law_features(np.concatenate([power_law_image(0.0, rng) for _ in range(8)]))
    steep = power_law_features(np.concatenate([power_law_image(-2.0, rng) for _ in range(8)]))
    assert flat.shape == steep.shape == (8, radial_spectrum.POWER_LAW_FEATURES)
    assert steep[:, 0].mean() < flat[:, 0].mean() - 1  # the decay exponent
    assert np.all(steep[:, 1:] < flat[:, 1:].min() / 5)  # the fitted range's first and last magnitude
