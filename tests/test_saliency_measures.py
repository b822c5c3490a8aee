"""The frequency measures of where a detector looks, on constructed detectors whose gradients are known.

A logistic regression on the DCT map (Flatten + Dense) has d logit / d input = its weights, whatever the
input, so its saliency map through the real tf-keras-vis path is |weights|: placing the weights places the
saliency, and each measure has an answer known in advance.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from gandct.errors import GandctError
from gandct.frequency_measures import (
    band_centres,
    band_profile,
    class_difference,
    diagonal_bands,
    diagonal_frequency,
    peak_share,
    quadrants,
    rank_correlation,
    uniform_map,
    unit_mass,
    upsampling_peaks,
    where_it_looks,
)
from gandct.saliency import saliency_maps
from gandct.saliency_figures import plot_band_profiles, plot_difference_peaks

SIZE = 32
BANDS = 8
# Nearest-neighbour up-sampling leaves peaks on a grid at multiples of H/4 (DC itself is no peak).
GRID = [(row, column) for row in range(0, SIZE, SIZE // 4) for column in range(0, SIZE, SIZE // 4)][1:]


def linear_detector(weights: np.ndarray) -> keras.Model:
    """A Functional logistic regression on (SIZE, SIZE, 1) DCT maps with the given weight per coefficient."""
    inputs = keras.Input((SIZE, SIZE, 1))
    outputs = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, outputs)
    model.layers[-1].set_weights([weights.reshape(-1, 1).astype(np.float32), np.zeros(1, np.float32)])
    return model


def mean_saliency(weights: np.ndarray) -> np.ndarray:
    """The mean saliency map of a linear detector with these weights over a few random DCT maps."""
    inputs = np.random.default_rng(1).normal(size=(5, SIZE, SIZE, 1)).astype(np.float32)
    return saliency_maps(linear_detector(weights), inputs).mean(axis=0)


def band_mask(band: int) -> np.ndarray:
    return diagonal_bands((SIZE, SIZE), BANDS) == band


def planted_difference(peaks: bool, height: float = 0.5) -> np.ndarray:
    """A fake - real log-spectrum: a large DC offset, a broad high-frequency excess, noise, optional grid peaks."""
    t = diagonal_frequency((SIZE, SIZE))
    difference = 0.6 * t**2 - 0.2 * t + 0.02 * np.random.default_rng(2).normal(size=(SIZE, SIZE))
    difference[0, 0] = 3.0
    if peaks:
        for position in GRID:
            difference[position] += height
    return difference


@pytest.fixture(scope="module")
def band_five_saliency() -> np.ndarray:
    """Saliency of a detector whose weights (of varied size and sign) all sit in diagonal band 5 of 8."""
    rng = np.random.default_rng(0)
    weights = rng.uniform(0.5, 1.5, (SIZE, SIZE)) * rng.choice([-1, 1], (SIZE, SIZE)) * band_mask(5)
    return mean_saliency(weights)


def test_diagonal_bands_of_a_small_map():
    # t = (i + j) / 6 on a 4x4 map: band 0 of 2 holds i + j < 3, band 1 the rest (t = 1 included).
    assert diagonal_bands((4, 4), 2).tolist() == [[0, 0, 0, 1], [0, 0, 1, 1], [0, 1, 1, 1], [1, 1, 1, 1]]
    np.testing.assert_allclose(band_profile(uniform_map((4, 4)), 2), [6 / 16, 10 / 16])


def test_band_profile_puts_a_one_band_detector_in_that_band(band_five_saliency):
    np.testing.assert_allclose(band_five_saliency, np.abs(band_five_saliency) * band_mask(5))  # sanity of the path
    profile = band_profile(band_five_saliency, BANDS)
    assert profile.sum() == pytest.approx(1)
    assert profile[5] == pytest.approx(1, abs=1e-6)
    # A stack of one map per image gives the same shares, and maps with no mass are left out of the mean.
    stack = np.stack([band_five_saliency, np.zeros_like(band_five_saliency), 3 * band_five_saliency])
    np.testing.assert_allclose(band_profile(stack, BANDS), profile, atol=1e-12)


def test_rank_correlation_is_high_where_the_classes_differ_and_negative_elsewhere(band_five_saliency):
    same_order = band_five_saliency**2 + 0.1  # any increasing function of the saliency ranks alike
    assert rank_correlation(band_five_saliency, same_order) == pytest.approx(1)
    t = diagonal_frequency((SIZE, SIZE))
    in_band_five = band_mask(5) * (1 + t) + 0.01 * t  # concentrated in band 5, smooth elsewhere
    assert rank_correlation(band_five_saliency, in_band_five) > 0.5  # within the band the orders are unrelated
    in_band_two = band_mask(2) * (1 + t)
    assert rank_correlation(band_five_saliency, in_band_two) < -0.1
    assert rank_correlation(band_five_saliency, np.full((SIZE, SIZE), 0.3)) is None


def test_upsampling_peaks_finds_exactly_the_planted_grid():
    found = upsampling_peaks(planted_difference(peaks=True))
    assert [tuple(position) for position in found.tolist()] == GRID
    # The DC offset, the smooth high-frequency excess and the noise alone are no peaks.
    assert upsampling_peaks(planted_difference(peaks=False)).shape == (0, 2)
    # Replicated pixels leave troughs rather than peaks: found only when asked for.
    with_troughs = planted_difference(peaks=True, height=-0.5)
    assert upsampling_peaks(with_troughs).shape == (0, 2)
    assert [tuple(position) for position in upsampling_peaks(with_troughs, troughs=True).tolist()] == GRID


def test_peak_share_of_a_detector_that_looks_only_at_the_peaks():
    peaks = upsampling_peaks(planted_difference(peaks=True))
    on_peaks = np.zeros((SIZE, SIZE))
    on_peaks[tuple(peaks.T)] = np.linspace(1, 2, len(peaks))
    share = peak_share(mean_saliency(on_peaks), peaks)
    assert share["peaks"] == len(GRID) and share["uniform"] == pytest.approx(len(GRID) / SIZE**2)
    assert share["share"] == pytest.approx(1) and share["ratio"] == pytest.approx(SIZE**2 / len(GRID))
    assert peak_share(uniform_map((SIZE, SIZE)), peaks)["ratio"] == pytest.approx(1)
    off_peaks = on_peaks == 0
    half = on_peaks / on_peaks.sum() + off_peaks / off_peaks.sum()  # mass 1 on the peaks, 1 spread elsewhere
    assert peak_share(half, peaks)["share"] == pytest.approx(0.5)
    assert peak_share(half, np.empty((0, 2)))["ratio"] is None


def planted_set(difference: np.ndarray, count: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Log-spectra of `count` reals (noise) and `count` fakes (noise + `difference`), and their labels."""
    noise = 0.05 * np.random.default_rng(3).normal(size=(2 * count, SIZE, SIZE))
    labels = np.repeat([0, 1], count)
    return noise + labels[:, None, None] * difference, labels


def test_where_it_looks_on_a_detector_that_looks_where_the_classes_differ():
    t = diagonal_frequency((SIZE, SIZE))
    difference = band_mask(5) * (1 + t)
    spectra, labels = planted_set(difference)
    weights = np.where(band_mask(5), 1 + t, 0.01) * np.random.default_rng(4).choice([-1, 1], (SIZE, SIZE))
    saliency = saliency_maps(linear_detector(weights), spectra[..., None].astype(np.float32))
    look = where_it_looks(saliency, spectra, labels, bands=BANDS, resamples=50)
    np.testing.assert_allclose(class_difference(spectra, labels), difference, atol=0.05)
    assert look["images"] == {"real": 30, "fake": 30}
    assert look["spearman"] > 0.3 and 0 < look["spearman_interval"][0] <= look["spearman_interval"][1]
    assert np.argmax(look["saliency_profile"]) == np.argmax(look["difference_profile"]) == 5
    assert look["saliency_mean_frequency"] == pytest.approx(
        np.mean(t[band_mask(5)] * (1 + t[band_mask(5)])) / np.mean(1 + t[band_mask(5)]), abs=0.02
    )
    assert look["uniform_mean_frequency"] == pytest.approx(0.5)


def test_where_it_looks_finds_the_planted_peaks_and_a_detector_that_looks_at_them():
    spectra, labels = planted_set(planted_difference(peaks=True))
    on_grid = np.full((SIZE, SIZE), 0.001)
    on_grid[tuple(np.array(GRID).T)] = 1.0
    saliency = saliency_maps(linear_detector(on_grid), spectra[..., None].astype(np.float32))
    look = where_it_looks(saliency, spectra, labels, bands=BANDS, resamples=50)
    assert sorted(map(tuple, look["peak_positions"])) == GRID
    assert look["peaks"]["peaks"] == len(GRID) and look["peaks"]["share"] > 0.9 and look["peaks"]["ratio"] > 50
    # The largest differences: the DC offset of 3, then grid points (0.5 plus the smooth excess there).
    largest = look["largest_differences"]
    assert (largest[0]["row"], largest[0]["column"], largest[0]["t"]) == (0, 0, 0.0)
    assert largest[0]["difference"] == pytest.approx(3.0, abs=0.05)
    assert all((d["row"], d["column"]) in GRID for d in largest[1:])
    quadrant = planted_difference(peaks=True)[SIZE // 2 :, SIZE // 2 :].mean()
    assert look["high_quadrant_difference"] == pytest.approx(quadrant, abs=0.01)


def test_where_it_looks_flags_a_detector_that_looks_elsewhere():
    t = diagonal_frequency((SIZE, SIZE))
    spectra, labels = planted_set(band_mask(5) * (1 + t))
    elsewhere = saliency_maps(
        linear_detector(np.where(band_mask(1), 1.0, 0.001)), spectra[..., None].astype(np.float32)
    )
    look = where_it_looks(elsewhere, spectra, labels, bands=BANDS, resamples=50)
    assert look["spearman_interval"][1] < 0
    assert look["saliency_mean_frequency"] < look["uniform_mean_frequency"] < look["difference_mean_frequency"]
    again = where_it_looks(elsewhere, spectra, labels, bands=BANDS, resamples=50)
    assert again == look  # seeded bootstrap


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: band_profile(-uniform_map((4, 4))), "maps must be finite and non-negative"),
        (lambda: band_profile(np.zeros((2, 4, 4))), "maps has no mass"),
        (lambda: band_profile(np.ones(4)), "maps must be an (H, W) map"),
        (lambda: rank_correlation(np.ones((4, 4)), np.ones((4, 5))), "must be (H, W) of one shape"),
        (lambda: upsampling_peaks(np.ones((8, 8)), window=4), "peak window must be an odd size"),
        (lambda: peak_share(np.ones((4, 4)), [[4, 0]]), "peak positions must lie inside the 4x4 map"),
        (lambda: class_difference(np.ones((3, 4, 4)), np.zeros(3)), "a class difference needs reals and fakes"),
        (lambda: where_it_looks(np.ones((3, 4, 4)), np.ones((2, 4, 4)), np.arange(3) % 2), "must describe the same"),
    ],
)
def test_bad_input_gives_one_clear_error(call, message):
    with pytest.raises(GandctError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()


def test_figures_are_written(tmp_path, band_five_saliency):
    difference = planted_difference(peaks=True)
    plot_band_profiles(
        band_centres(BANDS),
        {"band five": band_profile(band_five_saliency, BANDS)},
        band_profile(np.abs(difference), BANDS),
        band_profile(uniform_map((SIZE, SIZE)), BANDS),
        tmp_path / "profiles.png",
        "test split",
    )
    plot_difference_peaks(difference, upsampling_peaks(difference), tmp_path / "peaks.png", "test split")
    for name in ("profiles.png", "peaks.png"):
        assert (tmp_path / name).stat().st_size > 10_000, name


def test_unit_mass_scales_each_map_to_one_and_keeps_empty_maps_empty() -> None:
    stack = np.stack([np.full((4, 4), 2.0), np.zeros((4, 4)), np.eye(4)])
    scaled = unit_mass(stack)
    assert scaled.sum(axis=(1, 2)) == pytest.approx([1.0, 0.0, 1.0])
    assert scaled[2].max() == pytest.approx(0.25)


def test_quadrants_cover_the_map_once_and_put_the_highest_frequencies_in_high() -> None:
    grid = np.arange(36.0).reshape(6, 6)
    parts = quadrants(grid)
    assert sum(part.size for part in parts.values()) == grid.size
    assert parts["high"][-1, -1] == grid[-1, -1] and parts["low"][0, 0] == grid[0, 0]
    assert parts["high_horizontal"][0, -1] == grid[0, -1] and parts["high_vertical"][-1, 0] == grid[-1, 0]
    assert quadrants(np.stack([grid, grid]))["high"].shape == (2, 3, 3)
