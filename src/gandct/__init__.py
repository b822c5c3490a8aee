"""gandct: tell GAN-generated images from real photographs by their DCT spectra."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["dct_heatmap"]


def __getattr__(name: str) -> Any:
    # Imported on first use: `gandct <stage>` would otherwise pay for OpenCV and SciPy on every command.
    if name == "dct_heatmap":
        from gandct.dct import dct_heatmap

        return dct_heatmap
    raise AttributeError(f"module 'gandct' has no attribute {name!r}")
