"""gandct: tell GAN-generated images from real photographs by their DCT spectra."""

from __future__ import annotations

from typing import Any

__all__ = ["dct_heatmap"]


def __getattr__(name: str) -> Any:
    # Imported on first use: `gandct <stage>` would otherwise pay for OpenCV and SciPy on every command.
    if name == "dct_heatmap":
        from gandct.dct import dct_heatmap

        return dct_heatmap
    if name == "__version__":
        # setup.py holds the only copy of the version; the installed metadata carries it here.
        from importlib.metadata import version

        return version("gandct")
    raise AttributeError(f"module 'gandct' has no attribute {name!r}")
