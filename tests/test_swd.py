"""The multi-scale sliced Wasserstein distance on small real image sets: zero to itself, growing with blur,
large for a colour change, blind to image order, and above the floor for up-sampling-textured fakes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data
from helpers import gan_like, photo_like

from gandct.swd import laplacian_pyramid, multiscale_swd, pyramid_sides

SMALL = {"seed": 3, "neighbourhoods": 32, "directions": 64, "repeats": 2}
SEPIA = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]])


def image_set(make, count: int, seed: int, size: int = 32) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([make(rng, size) for _ in range(count)])


def photo_tiles(side: int = 32) -> np.ndarray:
    """Square tiles of three bundled photographs, shuffled: real textures at every scale."""
    tiles = [
        photo[top : top + side, left : left + side]
        for photo in (skimage.data.astronaut(), skimage.data.coffee(), skimage.data.chelsea())
        for top in range(0, photo.shape[0] - side + 1, side)
        for left in range(0, photo.shape[1] - side + 1, side)
    ]
    return np.stack(tiles)[np.random.default_rng(0).permutation(len(tiles))]


def average(reference: np.ndarray, others: dict[str, np.ndarray]) -> dict[str, float]:
    return {name: float(levels.mean()) for name, levels in multiscale_swd(reference, others, **SMALL).items()}


def test_pyramid_levels_run_down_to_16_and_rebuild_the_image():
    assert pyramid_sides(64) == [64, 32, 16]
    assert pyramid_sides(16) == [16]
    assert pyramid_sides(12) == [12]
    images = image_set(photo_like, 3, seed=0, size=64)
    pyramid = laplacian_pyramid(images, 3)
    assert [level.shape for level in pyramid] == [(3, 64, 64, 3), (3, 32, 32, 3), (3, 16, 16, 3)]
    rebuilt = pyramid[-1]
    for finer in pyramid[-2::-1]:
        side = finer.shape[1]
        rebuilt = np.stack([cv2.pyrUp(image, dstsize=(side, side)) for image in rebuilt]) + finer
    np.testing.assert_allclose(rebuilt, images, atol=1e-3)


def test_a_set_against_itself_is_zero_and_another_sample_is_not():
    reals = image_set(photo_like, 24, seed=0)
    distances = average(reals, {"same": reals.copy(), "other sample": image_set(photo_like, 24, seed=1)})
    assert distances["same"] < 1e-9
    assert distances["other sample"] > 1.0


def test_distance_grows_with_the_blur():
    tiles = photo_tiles()[:96]
    blurred = {sigma: np.stack([cv2.GaussianBlur(tile, (0, 0), sigma) for tile in tiles]) for sigma in (0.5, 1, 2)}
    distances = average(tiles, {f"sigma {sigma}": images for sigma, images in blurred.items()})
    values = list(distances.values())
    assert values[0] < values[1] < values[2], distances


def test_a_colour_change_is_far_beyond_the_floor():
    reals = image_set(photo_like, 32, seed=0)
    # Sepia toning mixes the channels: what the per-channel normalisation of the paper's metric cannot undo.
    sepia = np.clip(reals.astype(float) @ SEPIA.T, 0, 255).astype(np.uint8)
    distances = average(reals, {"floor": image_set(photo_like, 32, seed=1), "sepia": sepia})
    assert distances["sepia"] > 2 * distances["floor"], distances


def test_the_order_of_the_images_does_not_matter():
    reals, fakes = image_set(photo_like, 20, seed=0), image_set(gan_like, 20, seed=1)
    order = np.random.default_rng(5).permutation(20)
    forward = multiscale_swd(reals, {"fakes": fakes}, **SMALL)["fakes"]
    shuffled = multiscale_swd(reals[order[::-1]], {"fakes": fakes[order]}, **SMALL)["fakes"]
    np.testing.assert_allclose(shuffled, forward, rtol=1e-5)


def test_the_floor_is_below_reals_against_up_sampled_fakes():
    reals, other_reals = image_set(photo_like, 32, seed=0, size=64), image_set(photo_like, 32, seed=1, size=64)
    fakes = image_set(gan_like, 32, seed=2, size=64)
    distances = multiscale_swd(reals, {"floor": other_reals, "fakes": fakes}, **SMALL)
    assert distances["floor"].shape == (3,)
    assert distances["fakes"].mean() > 2 * distances["floor"].mean()
    # the checkerboard lives at the finest level, so that is where the fakes stand out most
    assert distances["fakes"][0] > 5 * distances["floor"][0]


def test_the_same_seed_gives_the_same_numbers_and_another_seed_others():
    reals, fakes = image_set(photo_like, 16, seed=0), image_set(gan_like, 16, seed=1)
    first = multiscale_swd(reals, {"fakes": fakes}, **SMALL)["fakes"]
    np.testing.assert_array_equal(multiscale_swd(reals, {"fakes": fakes}, **SMALL)["fakes"], first)
    other_seed = multiscale_swd(reals, {"fakes": fakes}, **{**SMALL, "seed": 4})["fakes"]
    assert not np.array_equal(other_seed, first)


def test_sets_of_other_sizes_are_refused_by_name():
    reals = image_set(photo_like, 8, seed=0)
    with pytest.raises(ValueError, match="'fakes' has shape"):
        multiscale_swd(reals, {"fakes": reals[:6]}, **SMALL)
    with pytest.raises(ValueError, match="square images"):
        multiscale_swd(reals[:, :, :20], {}, **SMALL)
