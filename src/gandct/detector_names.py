"""The detectors the pipeline can train and the input each one reads, without importing Keras.

`params.py` validates `train.models` and `report.saliency_models` against these names at the first stage;
`models.py` pairs each name with its builder.
"""

from __future__ import annotations

DCT = "dct"  # the z-scored log-DCT map
PIXELS = "pixels"  # the framed image scaled to [-1, 1]
RADIAL = "radial"  # the azimuthal average of the image's log Fourier magnitude (radial_spectrum)
POWER_LAW = "power_law"  # a power law fitted to the image's high-frequency Fourier magnitudes (radial_spectrum)

# The five ImageNet classifiers Frank et al. 2020 compare against (Sec. 4), as opt-in pixel baselines.
IMAGENET_NAMES = ("resnet152", "densenet121", "xception", "nasnetmobile", "inceptionresnetv2")

INPUT_KIND: dict[str, str] = {
    "paper": DCT,
    "custom": DCT,
    "paper_pixel": PIXELS,
    "linear": DCT,
    "durall": RADIAL,
    "dzanic": POWER_LAW,
    **dict.fromkeys(IMAGENET_NAMES, PIXELS),
}

# The models that can also attribute an image to its source (the photos or one generator, a softmax over them):
# the DCT detectors of Frank et al. 2020's attribution experiment (Sec. 4.1) and this project's.
ATTRIBUTION_MODELS = ("paper", "custom", "linear")

# Fitted deterministically (scikit-learn's lbfgs; a neighbour vote stores its points): every seed would give the
# same model.
SEEDLESS = ("linear", "durall", "dzanic")


def trained_seeds(name: str, seeds: list[int]) -> list[int]:
    """The seeds detector `name` is trained with from `train.seeds`: all of them, or the first for a seedless
    fit (stored as that seed's model)."""
    return seeds[:1] if name in SEEDLESS else list(seeds)
