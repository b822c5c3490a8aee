"""saliency stage: where the DCT detectors look, measured against where the classes differ, `gandct saliency`.

For each detector of `report.saliency_models` (its seed ensemble, `models/detectors/<name>.keras`): vanilla
gradients (|d logit / d input|, tf-keras-vis) over every image of the ProGAN test set and of each auto-encoder
family's twins (`LOOK_SETS`), SmoothGrad over a seeded sample of `report.smoothgrad_images` test images; the share
of saliency in the high-frequency quadrant, and the frequency measures of `gandct.frequency_measures` against the
mean log-spectrum difference of each set's fakes and reals. Writes `reports/saliency.json` (per model its shares
and, under "frequency", its measures on each set) and the figures that need the maps:
`reports/figures/saliency/<model>.png`, `saliency/mean.png`, `saliency/bands_<set>.png`, `saliency/peaks_<set>.png`
and `twin_pairs_<family>.png` (each family's twins beside their photos, their mean difference spectrum and the
detectors' mean saliency there). The report stage reads the JSON; it loads no model.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass

import numpy as np

from gandct import paths, saliency_figures, twin_spectra
from gandct.datasets import load_split
from gandct.detector import Detector
from gandct.detector_names import PIXELS
from gandct.entry import run_command
from gandct.fileio import read_csv, write_text
from gandct.frequency_measures import class_difference, unit_mass, where_it_looks
from gandct.logs import setup_logging
from gandct.params import Params, load_params
from gandct.saliency import high_frequency_share, quadrant_shares, saliency_maps
from gandct.test_sets import channel_mean_spectra, kind_of, pick
from gandct.twins import TWIN_SETS

log = logging.getLogger(__name__)

FIGURES = paths.FIGURES
# The sets on which where the detectors look is measured: the ProGAN's, and each family's controlled pairs.
LOOK_SETS = ("test", *TWIN_SETS)
TITLES = {"test": "ProGAN"} | {test_set: f"{family} twins" for test_set, family in TWIN_SETS.items()}
SALIENCY = paths.REPORTS / "saliency.json"  # what the report reads


@dataclass(frozen=True)
class SaliencyExamples:
    """A few test images of each kind as one detector reads them, with its vanilla and SmoothGrad maps."""

    inputs: np.ndarray
    vanilla: np.ndarray
    smoothgrad: np.ndarray
    captions: list[str]  # each image's kind: "real" or its generator


@dataclass(frozen=True)
class SaliencyMeasures:
    """Where the DCT detectors look: the numbers of reports/saliency.json and the maps its figures draw."""

    shares: dict[str, dict]  # per model: `share_measures` on the test split
    looks: dict[str, dict[str, dict]]  # per set of LOOK_SETS and model: `frequency_measures.where_it_looks`
    set_means: dict[str, dict[str, np.ndarray]]  # per set and model: the mean of the maps, each of mass 1
    examples: dict[str, SaliencyExamples]  # per model
    differences: dict[str, np.ndarray]  # per set: mean fake - mean real log-spectrum


def saliency_images(rows: list[dict[str, str]], params: Params) -> tuple[list[int], np.ndarray]:
    """The test rows shown as examples (`report.examples_per_class` of each kind, reals first), and the seeded
    sample of `report.smoothgrad_images` rows that SmoothGrad covers."""
    rng = np.random.default_rng(params.seed)
    kinds = sorted({kind_of(row) for row in rows}, key=lambda kind: (kind != "real", kind))
    examples = [i for kind in kinds for i in pick(rows, kind, params.report.examples_per_class, rng)]
    sample = np.sort(rng.choice(len(rows), size=min(params.report.smoothgrad_images, len(rows)), replace=False))
    return examples, sample


def share_measures(vanilla: np.ndarray, smoothed: np.ndarray, labels: np.ndarray) -> dict:
    """The share of saliency in the high-frequency quadrant: vanilla on every test image and per class,
    SmoothGrad on its sample; a uniform map's; and vanilla's share in each quadrant."""
    return {
        "vanilla": round(high_frequency_share(vanilla), 4),
        "vanilla_real": round(high_frequency_share(vanilla[labels == 0]), 4),
        "vanilla_fake": round(high_frequency_share(vanilla[labels == 1]), 4),
        "smoothgrad": round(high_frequency_share(smoothed), 4),
        "uniform": 0.25,
        "quadrants": {quadrant: round(share, 4) for quadrant, share in quadrant_shares(vanilla).items()},
    }


def measure_saliency(params: Params) -> SaliencyMeasures:
    """Saliency of each DCT detector of `report.saliency_models`: its shares on the test split, its frequency
    measures and mean map on each of LOOK_SETS, and its maps of a few example images.

    Vanilla gradients cover every image of a set; SmoothGrad, 20-odd times dearer, covers a seeded sample of
    `report.smoothgrad_images` test images, enough to check that it agrees.
    """
    sets = {split: [np.asarray(part) for part in load_split(split, PIXELS)] for split in LOOK_SETS}
    spectra = {split: channel_mean_spectra(split)[0] for split in LOOK_SETS}
    framed, y_test = sets["test"]
    rows = read_csv(paths.features_file("test", "ids.csv"))
    examples, sample = saliency_images(rows, params)
    smooth = {
        "smooth_samples": params.report.smooth_samples,
        "smooth_noise": params.report.smooth_noise,
        "seed": params.seed,
    }
    look_options = {
        "bands": params.report.frequency_bands,
        "resamples": params.evaluate.bootstrap_resamples,
        "seed": params.seed,
    }
    shares, example_maps = {}, {}
    looks: dict[str, dict[str, dict]] = {split: {} for split in LOOK_SETS}
    set_means: dict[str, dict[str, np.ndarray]] = {split: {} for split in LOOK_SETS}
    for name in params.report.saliency_models:  # DCT detectors that were trained: params.py checks both
        detector = Detector.load(paths.detector_model(name))
        model, x_test = detector.model, detector.inputs(framed)
        vanilla = saliency_maps(model, x_test)
        smoothed = saliency_maps(model, x_test[sample], **smooth)
        example_smooth = saliency_maps(model, x_test[examples], **smooth)
        captions = [kind_of(rows[i]) for i in examples]
        example_maps[name] = SaliencyExamples(x_test[examples], vanilla[examples], example_smooth, captions)
        shares[name] = share_measures(vanilla, smoothed, y_test)
        for split in LOOK_SETS:
            images, labels = sets[split]
            maps = vanilla if split == "test" else saliency_maps(model, detector.inputs(images))
            set_means[split][name] = unit_mass(maps).mean(axis=0)
            looks[split][name] = where_it_looks(maps, spectra[split], labels, **look_options)
    differences = {split: class_difference(spectra[split], labels) for split, (_, labels) in sets.items()}
    return SaliencyMeasures(shares, looks, set_means, example_maps, differences)


def draw_saliency(measures: SaliencyMeasures) -> None:
    """saliency/<model>.png (the examples), saliency/mean.png, and per set of LOOK_SETS bands_<set>.png (saliency
    and class difference per diagonal band) and peaks_<set>.png (the class difference and its peaks)."""
    for name, example in measures.examples.items():
        saliency_figures.plot_saliency_examples(
            example.inputs,
            example.vanilla,
            example.smoothgrad,
            example.captions,
            name,
            FIGURES / "saliency" / f"{name}.png",
        )
    shares = {name: share["vanilla"] for name, share in measures.shares.items()}
    saliency_figures.plot_mean_saliency(measures.set_means["test"], shares, FIGURES / "saliency" / "mean.png")
    for split, by_model in measures.looks.items():
        first = next(iter(by_model.values()))
        saliency_figures.plot_band_profiles(
            np.array(first["band_centres"]),
            {name: np.array(look["saliency_profile"]) for name, look in by_model.items()},
            np.array(first["difference_profile"]),
            np.array(first["uniform_profile"]),
            FIGURES / "saliency" / f"bands_{split}.png",
            f"{TITLES[split]}: saliency and class difference per diagonal frequency band",
        )
        saliency_figures.plot_difference_peaks(
            measures.differences[split],
            np.array(first["peak_positions"]).reshape(-1, 2),
            FIGURES / "saliency" / f"peaks_{split}.png",
            f"{TITLES[split]}: mean fake - mean real log-spectrum",
        )


def twin_figures(params: Params, set_means: dict[str, dict[str, np.ndarray]]) -> None:
    """twin_pairs_<family>.png: each family's twins beside their photos, and the detectors' mean saliency there."""
    for test_set, family in TWIN_SETS.items():
        examples = twin_spectra.paired_examples(test_set, params.report.examples_per_class, params.seed)
        saliency_figures.plot_twin_pairs(*examples, set_means[test_set], family, FIGURES / f"twin_pairs_{family}.png")


def saliency_numbers(measures: SaliencyMeasures) -> dict[str, dict]:
    """reports/saliency.json: per model its shares, and under "frequency" its measures on each set."""
    return {
        name: share | {"frequency": {split: measures.looks[split][name] for split in measures.looks}}
        for name, share in measures.shares.items()
    }


def main(argv: list[str] | None = None) -> None:
    """Run the stage: measure where each detector looks, draw the saliency figures and write reports/saliency.json."""
    parser = argparse.ArgumentParser(prog="gandct saliency", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    setup_logging()
    params = load_params()
    measures = measure_saliency(params)
    draw_saliency(measures)
    twin_figures(params, measures.set_means)
    write_text(SALIENCY, json.dumps(saliency_numbers(measures), indent=2) + "\n")
    log.info("wrote %s and the saliency figures", SALIENCY)


if __name__ == "__main__":
    run_command("saliency", main)
