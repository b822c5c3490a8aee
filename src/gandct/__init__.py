"""gandct: tell GAN-generated images from real photographs by their DCT spectra.

gandct.load_detector("custom").predict(["a.png", "b.jpg"])  # p_fake per image, the detector shipped inside
gandct.load_detector("models/detectors/custom.keras")  # a run's own
gandct.dct_heatmap("a.png")  # its log-magnitude DCT map
"""

from __future__ import annotations

from typing import Any

__all__ = ["dct_heatmap", "load_detector"]


def __getattr__(name: str) -> Any:
    # Imported on first use: `gandct <stage>` would otherwise pay for OpenCV, SciPy and Keras on every command.
    if name == "dct_heatmap":
        from gandct.dct import dct_heatmap

        return dct_heatmap
    if name == "__version__":
        # setup.py holds the only copy of the version; the installed metadata carries it here.
        from importlib.metadata import version

        return version("gandct")
    if name == "load_detector":
        from gandct.detector import load_detector

        return load_detector
    raise AttributeError(f"module 'gandct' has no attribute {name!r}")
