"""heatmap: draw images beside their DCT heatmaps, `gandct heatmap IMAGE... [--out DIR]`.

Each image becomes `<out>/<name>_dct.png`: the image and its log-magnitude DCT map (lowest frequency
top-left, the high-frequency quadrant outlined), computed by `gandct.dct_heatmap`, the features stage's
own transform. With `--stats` (e.g. models/detectors/custom.dct_stats.npz) the image is first fitted exactly as
the detectors see it; without, the whole image is transformed in gray at its own size.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from gandct.cli import run_command
from gandct.dct import DctStats, dct_heatmap, fit_image
from gandct.errors import GandctError
from gandct.figures import plot_image_and_heatmap
from gandct.images import ImageError, load_rgb
from gandct.logs import setup_logging

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="gandct heatmap", description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="+", type=Path, help="image files")
    parser.add_argument("--out", type=Path, default=Path("reports/heatmaps"), help="folder for the PNG files")
    parser.add_argument("--stats", type=Path, help="DCT statistics whose preprocessing to apply first")
    args = parser.parse_args(argv)
    setup_logging()
    preprocessing = DctStats.load(args.stats).preprocessing if args.stats else None
    args.out.mkdir(parents=True, exist_ok=True)
    skipped = 0
    for image_path in args.images:
        try:
            heatmap = dct_heatmap(image_path, preprocessing)
            image = load_rgb(image_path)
            if preprocessing is not None:
                image = fit_image(image, preprocessing)
        except ImageError as err:
            log.warning("skipped %s", err)
            skipped += 1
            continue
        out = args.out / f"{image_path.stem}_dct.png"
        plot_image_and_heatmap(image, heatmap, image_path.name, out)
        log.info("wrote %s", out)
    if skipped == len(args.images):
        raise GandctError("no image could be read; nothing was written")


if __name__ == "__main__":
    run_command("heatmap", main)
