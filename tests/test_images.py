"""gandct.images on awkward files: sizes read from the header before decoding, EXIF orientation, and
the folder walk that every stage and command shares."""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import photo_like, png_bomb
from PIL import Image

from gandct.fileio import remove_stale_staging, walk_files
from gandct.images import MAX_PIXELS, ImageError, decode_rgb, load_rgb, read_header

HUGE = (20000, 20000)  # above MAX_PIXELS, below OpenCV's own limit: only the header check stops it


def small(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(photo_like(np.random.default_rng(1), 16)).save(buffer, fmt)
    return buffer.getvalue()


def declare_size(fmt: str, width: int, height: int) -> bytes:
    """A small real file of the format whose header is patched to declare width x height."""
    data = bytearray(small(fmt))
    if fmt == "JPEG":
        at = data.index(b"\xff\xc0") + 5  # baseline start-of-frame: height, then width
        data[at : at + 4] = struct.pack(">HH", height, width)
    elif fmt == "GIF":
        data[6:10] = struct.pack("<HH", width, height)  # logical screen
        at = data.index(b"\x2c")  # image descriptor: left, top, width, height
        data[at + 5 : at + 9] = struct.pack("<HH", width, height)
    elif fmt == "BMP":
        data[18:26] = struct.pack("<ii", width, height)
    elif fmt == "TIFF":
        (first,) = struct.unpack("<I", data[4:8])
        (count,) = struct.unpack("<H", data[first : first + 2])
        for entry in range(first + 2, first + 2 + 12 * count, 12):
            tag, kind = struct.unpack("<HH", data[entry : entry + 4])
            if tag in (256, 257):  # ImageWidth, ImageLength
                value = width if tag == 256 else height
                data[entry + 8 : entry + 12] = (
                    struct.pack("<H", value) + b"\0\0" if kind == 3 else struct.pack("<I", value)
                )
    return bytes(data)


@pytest.mark.parametrize("fmt", ["JPEG", "GIF", "BMP", "TIFF"])
def test_an_oversized_image_is_refused_from_its_header(fmt):
    data = declare_size(fmt, *HUGE)
    assert read_header(data)[:2] == HUGE
    with pytest.raises(ImageError, match=r"^image too large: 20000x20000 \(more than \d+ pixels\)$"):
        decode_rgb(data)
    assert decode_rgb(small(fmt)).shape == (16, 16, 3)  # the unpatched file decodes


def test_a_png_decompression_bomb_is_refused_before_decoding():
    bomb = png_bomb(*HUGE)
    assert len(bomb) < 1_000_000 and HUGE[0] * HUGE[1] > MAX_PIXELS
    with pytest.raises(ImageError, match=r"^image too large: 20000x20000"):
        decode_rgb(bomb)
    assert decode_rgb(png_bomb(40, 30)).shape == (30, 40, 3)  # the same construction, small, is a valid image


def exif_jpeg(rgb: np.ndarray, orientation: int) -> bytes:
    image = Image.fromarray(rgb)
    exif = image.getexif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95, exif=exif)
    return buffer.getvalue()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_as_viewers_show_it(orientation):
    rgb = np.ascontiguousarray(photo_like(np.random.default_rng(2), 48)[:, :32])  # not square: rotations show
    data = exif_jpeg(rgb, orientation)
    # OpenCV's colour decoder applies the orientation itself: the reference, from the same JPEG decoder.
    expected = cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    decoded = decode_rgb(data)
    assert decoded.shape == expected.shape == ((48, 32, 3) if orientation < 5 else (32, 48, 3))
    np.testing.assert_array_equal(decoded, expected)


def test_exif_orientation_of_a_png_and_a_broken_exif_block():
    rgb = photo_like(np.random.default_rng(3), 40)[:, :24]
    stored = Image.fromarray(np.ascontiguousarray(np.rot90(rgb, 1)))  # stored turned left, tagged "turn right"
    exif = stored.getexif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    stored.save(buffer, "PNG", exif=exif)
    np.testing.assert_array_equal(decode_rgb(buffer.getvalue()), rgb)
    broken = bytearray(exif_jpeg(rgb, 6))
    at = broken.index(b"Exif\0\0") + 6
    broken[at : at + 8] = b"\xde\xad\xbe\xef" * 2  # no longer a TIFF header: the pixels are used as stored
    assert decode_rgb(bytes(broken)).shape == (40, 24, 3)


def test_walk_lists_every_entry_follows_linked_folders_and_stops_at_loops(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "real" / "nested").mkdir(parents=True)
    outside.mkdir()
    (outside / "a.png").write_bytes(b"x")
    (root / "real" / "nested" / "b.png").write_bytes(b"x")
    (root / "real" / ".hidden").write_bytes(b"x")
    (root / "real" / "linked").symlink_to(outside)  # followed
    (root / "real" / "loop").symlink_to(root)  # back to a folder it is inside: listed, not followed
    (root / "real" / "dangling.png").symlink_to(root / "missing.png")
    (root / "real" / "self.png").symlink_to(root / "real" / "self.png")
    found = [p.relative_to(root).as_posix() for p in walk_files(root)]
    assert found == [
        "real/.hidden",
        "real/dangling.png",
        "real/linked/a.png",
        "real/loop",
        "real/nested/b.png",
        "real/self.png",
    ]
    reasons = {}
    for name in ("loop", "dangling.png", "self.png"):
        with pytest.raises(ImageError) as err:
            load_rgb(root / "real" / name)
        reasons[name] = str(err.value)
    assert reasons == {
        "loop": "symbolic link to a folder it is inside (a loop): not followed",
        "dangling.png": "broken symbolic link: No such file or directory",
        "self.png": "broken symbolic link: Too many levels of symbolic links",
    }


def test_stale_staging_of_dead_runs_is_removed_and_live_ones_kept(tmp_path):
    final = tmp_path / "processed"
    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)
    stale = [tmp_path / f".processed.{dead}-abc123.tmp", tmp_path / ".processed.x8yxva1.tmp"]
    stale.append(tmp_path / f".processed.old-{dead}")
    live = tmp_path / f".processed.{os.getpid()}-def456.tmp"
    other = tmp_path / ".features.1-abc.tmp"
    for folder in [*stale, live, other]:
        (folder / "part").mkdir(parents=True)
    assert sorted(remove_stale_staging(final)) == sorted(stale)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other.name])


def test_header_of_an_unknown_format_falls_back_to_opencv(tmp_path):
    rgb = photo_like(np.random.default_rng(4), 24)
    ok, encoded = cv2.imencode(".pfm", rgb.astype(np.float32))  # OpenCV reads it, PIL does not
    assert ok and read_header(encoded.tobytes()) is None
    with pytest.raises(ImageError, match="unsupported pixel type float32"):
        decode_rgb(encoded.tobytes())
    path = Path(tmp_path / "x.ppm")
    cv2.imwrite(str(path), rgb)
    assert load_rgb(path).shape == (24, 24, 3)
