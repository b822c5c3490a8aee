"""heatmap: draw images beside their DCT heatmaps, `gandct heatmap IMAGE_OR_FOLDER... [--out DIR]`.

Each image becomes `<out>/<relative path>_dct.png`: its path relative to the folder all inputs share,
extension dropped (kept as `_<ext>` where two images differ only by it), so no two images share an
output. The figure shows the image and its log-magnitude DCT map (lowest frequency top-left, the
high-frequency quadrant outlined), computed by `gandct.dct_heatmap`, the features stage's own transform.
With `--stats` (e.g. models/detectors/custom.dct_stats.npz) the image is first framed exactly as the detectors see
it; without, the whole image is transformed in gray at its own size.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections import Counter
from pathlib import Path

from gandct.dct import DctStats, dct_heatmap, frame_image
from gandct.entry import run_command
from gandct.errors import GandctError
from gandct.figures import plot_image_and_heatmap
from gandct.fileio import expand_paths, output_problem
from gandct.images import ImageError, load_rgb
from gandct.logs import setup_logging

log = logging.getLogger(__name__)


def output_names(images: list[Path]) -> list[Path]:
    """One distinct relative output path per image (see the module docstring)."""
    absolute = [Path(os.path.abspath(image)) for image in images]
    base = Path(os.path.commonpath([image.parent for image in absolute]))
    relatives = [image.relative_to(base) for image in absolute]
    stems = Counter(relative.with_suffix("") for relative in relatives)
    names = []
    for relative in relatives:
        stem = relative.with_suffix("")
        if stems[stem] > 1 and relative.suffix:
            stem = relative.with_name(f"{relative.stem}_{relative.suffix[1:]}")
        names.append(stem.with_name(f"{stem.name}_dct.png"))
    return names


def main(argv: list[str] | None = None) -> None:
    """Draw each image beside its DCT heatmap."""
    parser = argparse.ArgumentParser(prog="gandct heatmap", description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="+", type=Path, help="image files and folders (walked recursively)")
    parser.add_argument("--out", type=Path, default=Path("reports/heatmaps"), help="folder for the PNG files")
    parser.add_argument("--stats", type=Path, help="DCT statistics whose preprocessing to apply first")
    args = parser.parse_args(argv)
    if problem := output_problem(args.out, folder=True):
        raise GandctError(f"--out: {problem}")
    setup_logging()
    preprocessing = DctStats.load(args.stats).preprocessing if args.stats else None
    images = expand_paths(args.images)
    if not images:
        raise GandctError(f"no files found in {', '.join(map(str, args.images))}; nothing was written")
    skipped = 0
    for image_path, name in zip(images, output_names(images), strict=True):
        try:
            heatmap = dct_heatmap(image_path, preprocessing)
            image = load_rgb(image_path)
            if preprocessing is not None:
                image = frame_image(image, preprocessing)
        except ImageError as err:
            log.warning("skipped %s", err)
            skipped += 1
            continue
        out = args.out / name
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            plot_image_and_heatmap(image, heatmap, image_path.name, out)
        except OSError as err:
            raise GandctError(f"--out: cannot write {out}: {err.strerror or err}") from None
        log.info("wrote %s", out)
    if skipped == len(images):
        raise GandctError("no image could be read; nothing was written")


if __name__ == "__main__":
    run_command("heatmap", main)
