"""The third_party stage: each test real's fake is the same patch of the generator's output on its whole photo,
gray where the photo is gray, written where the quality stage pairs it with its photo."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from gandct import paths, photos
from gandct.errors import GandctError
from gandct.fileio import read_csv, write_csv
from gandct.gan import srresnet
from gandct.images import as_gray, is_gray, load_rgb, save_png
from gandct.stages import third_party
from gandct.stages.quality import psnr, twin_psnr

CAMERA = "skimage/data/camera.png"  # a gray photograph
CHELSEA = "skimage/data/chelsea.png"  # a colour one


def write_sample_data(root, patches: dict[str, list[photos.Patch]]) -> list[dict[str, str]]:
    """Raw patches of bundled photos with their files.csv, and the manifest's test rows of them."""
    raw = root / paths.raw_source_dir("sample")
    (raw / "real").mkdir(parents=True)
    files, manifest = [], []
    for origin, chosen in patches.items():
        photo = photos.load_photo(origin)
        for index, patch in enumerate(chosen):
            relative = f"real/{origin.rsplit('/', 1)[-1].split('.')[0]}_{index:04d}.png"
            save_png(raw / relative, patch.cut(photo))
            files.append(
                {"path": relative, "label": "real", "group": origin, "generator": "", "origin": origin}
                | {"top": patch.top, "left": patch.left, "flipped": int(patch.flipped)}
            )
            manifest.append(
                {"path": str(paths.raw_source_dir("sample") / relative), "label": "real", "split": "test"}
                | {"group": origin, "generator": "", "sha256": f"{origin}{index}"}
            )
    write_csv(raw / paths.RAW_FILES_NAME, list(files[0]), files)
    return manifest


def test_gray_is_three_equal_channels_and_as_gray_keeps_the_luma():
    rgb = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    gray = as_gray(rgb)
    assert is_gray(gray) and not is_gray(rgb)
    np.testing.assert_array_equal(gray[..., 0], cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))


def test_each_real_is_traced_to_its_photo_and_patch(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    patches = {CAMERA: [photos.Patch(10, 20, 32, False), photos.Patch(100, 50, 32, True)], CHELSEA: []}
    patches[CHELSEA] = [photos.Patch(0, 0, 32, True)]
    reals = write_sample_data(tmp_path, patches)
    by_photo = third_party.source_photos(reals, "sample", tmp_path / "data/external")
    assert by_photo == {
        f"bundled:{CAMERA}": list(enumerate(patches[CAMERA])),
        f"bundled:{CHELSEA}": [(2, patches[CHELSEA][0])],
    }
    with pytest.raises(GandctError, match=r"is not in .*files\.csv; run prepare again"):
        third_party.source_photos([{**reals[0], "path": "data/raw/sample/real/other.png"}], "sample", tmp_path)


def test_a_generator_that_changes_nothing_gives_each_real_back_exactly(tmp_path, monkeypatch):
    """The control of the alignment: with an identity generator, every fake is its own photo's patch."""
    monkeypatch.chdir(tmp_path)
    patches = {CHELSEA: [photos.Patch(5, 7, 32, False), photos.Patch(200, 300, 32, True)]}
    reals = write_sample_data(tmp_path, patches)
    by_photo = third_party.source_photos(reals, "sample", tmp_path)
    made = third_party.make_fakes(lambda photo: photo.copy(), reals, by_photo)
    for real, fake in zip(reals, made, strict=True):
        np.testing.assert_array_equal(fake, load_rgb(real["path"]))


def test_super_resolved_fakes_are_aligned_gray_for_a_gray_photo_and_paired_by_quality(tmp_path, monkeypatch):
    """The real SRResNet on whole bundled photos: each fake is closest to its own real patch (not to the patch a
    few pixels over), a gray photo gets a gray fake, and the quality stage pairs the written fakes."""
    monkeypatch.chdir(tmp_path)
    patches = {CAMERA: [photos.Patch(200, 220, 32, False)], CHELSEA: [photos.Patch(150, 200, 32, True)]}
    reals = write_sample_data(tmp_path, patches)
    made = third_party.make_fakes(
        third_party.super_resolution("srresnet"), reals, third_party.source_photos(reals, "sample", tmp_path)
    )
    assert is_gray(made[0]) and not is_gray(made[1])
    for real, fake, patch in zip(reals, made, [patches[CAMERA][0], patches[CHELSEA][0]], strict=True):
        photo = photos.load_photo(real["group"])
        shifted = photos.Patch(patch.top + 3, patch.left + 3, patch.size, patch.flipped).cut(photo)
        aligned = psnr(fake, load_rgb(real["path"]))
        assert aligned > 24 and aligned > psnr(fake, shifted) + 3
    third_party.write_fakes("srresnet", reals, made)
    listing = read_csv(paths.generated_listing("srresnet"))
    assert [row["group"] for row in listing] == [CAMERA, CHELSEA] and {row["split"] for row in listing} == {"test"}
    assert twin_psnr(reals, "srresnet")["pairs"] == 2


def test_super_resolution_keeps_the_size_of_a_photo_whose_sides_are_not_multiples_of_4():
    rgb = np.random.default_rng(1).integers(0, 256, (37, 42, 3), dtype=np.uint8)
    made = third_party.super_resolve_photo(srresnet.build_generator(), rgb)
    assert made.shape == rgb.shape and made.dtype == np.uint8
