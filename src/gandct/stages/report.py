"""report stage: figures, saliency numbers and `reports/report.md` from the features, models and metrics.

Figures (reports/figures/): samples.png, mean_spectra.png, mean_spectra_unseen.png (the DCGAN's),
diagonal_profile.png, twin_pairs_<family>.png (each auto-encoder family's twins, their mean difference
spectrum and the detectors' saliency on them), generator_roc_auc.png (detectors by test generators),
training_curves.png (each detector's best val-loss seed), roc_test.png (the seed ensembles), seed_roc_auc.png
(every seed on every test set), reliability.png (the shipped detector's p_fake per test generator),
saliency/<model>.png, saliency/mean.png, saliency/bands_<set>.png and
saliency/peaks_<set>.png. Numbers: reports/saliency.json. Tables and comparisons come from
reports/evaluate/detail.json, the fakes' quality from reports/augment/quality.json; `gandct.report_markdown`
writes the report's text from those numbers.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gandct import figures, paths, twin_spectra
from gandct.cli import run_command
from gandct.datasets import load_split
from gandct.detector import Detector
from gandct.detector_names import DCT, PIXELS, SEEDLESS
from gandct.errors import GandctError
from gandct.fileio import read_csv, write_text
from gandct.frequency_measures import class_difference, unit_mass, where_it_looks
from gandct.images import load_rgb
from gandct.logs import setup_logging
from gandct.params import Params, load_params
from gandct.report_markdown import (
    CLAIM,
    TWIN_SETS,
    RunSettings,
    column_title,
    generator_sets,
    render_report,
    set_title,
    short_source,
)
from gandct.saliency import high_frequency_share, quadrant_shares, saliency_maps

log = logging.getLogger(__name__)

FIGURES = paths.FIGURES
# The sets on which where the detectors look is measured: the ProGAN's, and each family's controlled pairs.
LOOK_SETS = ("test", *TWIN_SETS)


def channel_mean_spectra(split: str) -> tuple[np.ndarray, list[dict[str, str]]]:
    """The split's cached log-DCT maps with their channels averaged (N, H, W), and its ids rows."""
    spectra, _ = load_split(split, DCT)
    return np.asarray(spectra).mean(axis=-1), read_csv(paths.features_file(split, "ids.csv"))


def kind_of(row: dict[str, str]) -> str:
    """ "real" or the generator that made the fake."""
    return "real" if row["label"] == "0" else (row["generator"] or "fake")


def pick(rows: list[dict[str, str]], kind: str, count: int, rng: np.random.Generator) -> list[int]:
    """Seeded choice of up to `count` row indices of one kind, in index order."""
    indices = [i for i, row in enumerate(rows) if kind_of(row) == kind]
    return sorted(rng.choice(indices, size=min(count, len(indices)), replace=False).tolist()) if indices else []


def training_history(name: str, seed: int) -> dict[str, list[float]]:
    """Per-epoch loss and accuracy of one seed of a detector, read back from its dvclive curves (one step for
    linear)."""
    folder = paths.train_curves(name) / f"seed_{seed}"
    history = {}
    for stage, prefix in (("train", ""), ("eval", "val_")):
        for metric in ("loss", "accuracy"):
            tsv = folder / stage / f"{metric}.tsv"
            if not tsv.is_file():
                raise GandctError(f"{tsv} not found; run the train stage first (dvc repro train)")
            with tsv.open(newline="") as handle:
                history[prefix + metric] = [float(row[metric]) for row in csv.DictReader(handle, delimiter="\t")]
    return history


def best_seed(name: str) -> int:
    """The seed whose model users score with, as the train stage recorded it."""
    summary = paths.train_summary(name)
    if not summary.is_file():
        raise GandctError(f"{summary} not found; run the train stage first (dvc repro train@{name})")
    return int(json.loads(summary.read_text())["best_seed"])


def by_kind(maps: np.ndarray, rows: list[dict[str, str]]) -> dict[str, np.ndarray]:
    """Split a set's maps into reals and each generator's fakes."""
    kinds = [kind_of(row) for row in rows]
    return {kind: maps[[i for i, k in enumerate(kinds) if k == kind]] for kind in sorted(set(kinds))}


def spectra_figures() -> dict[str, int]:
    """Mean spectra, their difference and the diagonal profiles; return image counts per kind."""
    groups: dict[str, np.ndarray] = {}
    fakes = {}
    for test_set in paths.TEST_SETS:
        maps, rows = channel_mean_spectra(test_set)
        # the other test sets' reals are the test reals again: take only their fakes
        groups |= {kind: kind_maps for kind, kind_maps in by_kind(maps, rows).items() if kind not in groups}
        fakes[test_set] = maps[[row["label"] == "1" for row in rows]].mean(axis=0)
    real = groups["real"].mean(axis=0)
    figures.plot_mean_spectra(real, fakes["test"], "ProGAN fake", FIGURES / "mean_spectra.png")
    figures.plot_mean_spectra(real, fakes["test_dcgan"], "DCGAN fake", FIGURES / "mean_spectra_unseen.png")
    k = np.arange(real.shape[0])
    profiles = {kind: (maps[:, k, k].mean(axis=0), maps[:, k, k].std(axis=0)) for kind, maps in groups.items()}
    figures.plot_diagonal_profiles(profiles, FIGURES / "diagonal_profile.png")
    return {kind: len(maps) for kind, maps in groups.items()}


def sample_grid(params: Params) -> None:
    """Real test images beside each generator's fakes, at the size they were stored."""
    rng = np.random.default_rng(params.seed)
    rows = {}
    # The twins are in their own figures, beside their photos; the third-party fakes are patches of photos too.
    for split in ("test", "test_dcgan", *paths.THIRD_PARTY_SETS):
        ids = read_csv(paths.features_file(split, "ids.csv"))
        for kind in sorted({kind_of(row) for row in ids}):
            if kind not in rows:
                chosen = pick(ids, kind, params.report.examples_per_class, rng)
                rows[kind] = [load_rgb(ids[i]["path"]) for i in chosen]
    figures.plot_image_grid(rows, FIGURES / "samples.png", "test images: real photographs and generated fakes")


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
    fitted, y_test = sets["test"]
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
        model, x_test = detector.model, detector.inputs(fitted)
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


def saliency_figures(measures: SaliencyMeasures) -> None:
    """saliency/<model>.png (the examples), saliency/mean.png, and per set of LOOK_SETS bands_<set>.png (saliency
    and class difference per diagonal band) and peaks_<set>.png (the class difference and its peaks)."""
    for name, example in measures.examples.items():
        figures.plot_saliency_examples(
            example.inputs,
            example.vanilla,
            example.smoothgrad,
            example.captions,
            name,
            FIGURES / "saliency" / f"{name}.png",
        )
    shares = {name: share["vanilla"] for name, share in measures.shares.items()}
    figures.plot_mean_saliency(measures.set_means["test"], shares, FIGURES / "saliency" / "mean.png")
    for split, by_model in measures.looks.items():
        first = next(iter(by_model.values()))
        figures.plot_band_profiles(
            np.array(first["band_centres"]),
            {name: np.array(look["saliency_profile"]) for name, look in by_model.items()},
            np.array(first["difference_profile"]),
            np.array(first["uniform_profile"]),
            FIGURES / "saliency" / f"bands_{split}.png",
            f"{set_title(split)}: saliency and class difference per diagonal frequency band",
        )
        figures.plot_difference_peaks(
            measures.differences[split],
            np.array(first["peak_positions"]).reshape(-1, 2),
            FIGURES / "saliency" / f"peaks_{split}.png",
            f"{set_title(split)}: mean fake - mean real log-spectrum",
        )


def twin_figures(params: Params, set_means: dict[str, dict[str, np.ndarray]]) -> None:
    """twin_pairs_<family>.png: each family's twins beside their photos, and the detectors' mean saliency there."""
    for test_set, family in TWIN_SETS.items():
        examples = twin_spectra.paired_examples(test_set, params.report.examples_per_class, params.seed)
        figures.plot_twin_pairs(*examples, set_means[test_set], family, FIGURES / f"twin_pairs_{family}.png")


def saliency_numbers(measures: SaliencyMeasures) -> dict[str, dict]:
    """reports/saliency.json: per model its shares, and under "frequency" its measures on each set."""
    return {
        name: share | {"frequency": {split: measures.looks[split][name] for split in measures.looks}}
        for name, share in measures.shares.items()
    }


def seed_spread_figure(detectors: dict[str, dict], metric: str, path: Path) -> None:
    """Every seed's `metric` and the ensemble's, per test set and detector (`figures.plot_seed_spread`)."""
    sets = list(next(iter(detectors.values()))["sets"])
    per_seed = {
        set_title(s): {name: list(r["sets"][s]["seeds"][metric]["seeds"].values()) for name, r in detectors.items()}
        for s in sets
    }
    ensemble = {set_title(s): {name: r["sets"][s]["ensemble"][metric] for name, r in detectors.items()} for s in sets}
    figures.plot_seed_spread(per_seed, ensemble, metric, path)


def generator_heatmap(detectors: dict[str, dict], unseen: list[str], path: Path) -> None:
    """The seed-mean ROC AUC of every detector on every test generator and the unseen mean, as a heat map."""
    sets = generator_sets(detectors)
    values = np.array([[r["sets"][s]["seeds"]["roc_auc"]["mean"] for s in sets] for r in detectors.values()])
    figures.plot_generator_heatmap(values, list(detectors), [column_title(s, unseen) for s in sets], path)


def reliability_figure(detectors: dict[str, dict], path: Path) -> None:
    """reliability.png: the reliability diagram of the shipped detector's seed ensemble (report_markdown.CLAIM's
    first, `custom`) on every test generator's set."""
    name = CLAIM[0] if CLAIM[0] in detectors else next(iter(detectors))
    sets = detectors[name]["sets"]
    by_set = {set_title(s): sets[s]["reliability"] for s in paths.TEST_SETS if s in sets}
    figures.plot_reliability(by_set, f"{name}, seed ensemble: reliability of p_fake per test set", path)


def roc_figure(params: Params, detail: dict) -> None:
    """roc_test.png: each detector's seed ensemble on the ProGAN test set, as the evaluate stage wrote its curve."""
    roc = {}
    for name in params.train.models:
        points = read_csv(paths.EVALUATION / "roc" / f"{name}.csv")
        fpr, tpr = (np.array([float(p[k]) for p in points]) for k in ("fpr", "tpr"))
        roc[name] = (fpr, tpr, detail["detectors"][name]["sets"]["test"]["ensemble"]["roc_auc"])
    figures.plot_roc_curves(roc, FIGURES / "roc_test.png", "ProGAN test set, seed ensembles")


def run_settings(params: Params) -> RunSettings:
    """The params that the report's text names."""
    return RunSettings(
        source=params.data.source,
        seed=params.seed,
        image_size=params.features.image_size,
        color=params.features.color,
        train_fakes=params.train.fakes,
        train_seeds=params.train.seeds,
        seedless_models=[name for name in SEEDLESS if name in params.train.models],
        smoothgrad_images=params.report.smoothgrad_images,
        bootstrap_resamples=params.evaluate.bootstrap_resamples,
        first_look=params.augment.first_look,
    )


def attribution_figure() -> dict:
    """Draw the confusion matrix of every attributor's seed ensemble; return reports/attribution/detail.json."""
    if not paths.ATTRIBUTION_DETAIL.is_file():
        message = f"{paths.ATTRIBUTION_DETAIL} not found; run the evaluate_attribution stage first"
        raise GandctError(message + " (dvc repro evaluate_attribution)")
    attribution = json.loads(paths.ATTRIBUTION_DETAIL.read_text())
    matrices = {
        f"{name}, accuracy {found['ensemble']['accuracy']:.3f}": np.asarray(found["ensemble"]["confusion"])
        for name, found in attribution["models"].items()
    }
    classes = [short_source(source) for source in attribution["classes"]]
    figures.plot_confusion_matrices(matrices, classes, paths.ATTRIBUTION_FIGURE)
    return attribution


def main(argv: list[str] | None = None) -> None:
    """Run the stage: draw the figures, measure saliency and write reports/report.md."""
    parser = argparse.ArgumentParser(prog="gandct report", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    setup_logging()
    params = load_params()
    if not paths.EVALUATION_DETAIL.is_file():
        raise GandctError(f"{paths.EVALUATION_DETAIL} not found; run the evaluate stage first (dvc repro evaluate)")
    detail = json.loads(paths.EVALUATION_DETAIL.read_text())

    sample_grid(params)
    counts = spectra_figures()
    histories = {name: training_history(name, best_seed(name)) for name in params.train.models}
    figures.plot_training_curves(histories, FIGURES / "training_curves.png")
    roc_figure(params, detail)
    seed_spread_figure(detail["detectors"], "roc_auc", FIGURES / "seed_roc_auc.png")
    generator_heatmap(detail["detectors"], detail.get("unseen_sets", []), FIGURES / "generator_roc_auc.png")
    reliability_figure(detail["detectors"], FIGURES / "reliability.png")
    saliency = measure_saliency(params)
    saliency_figures(saliency)
    twin_figures(params, saliency.set_means)
    write_text(paths.REPORTS / "saliency.json", json.dumps(saliency_numbers(saliency), indent=2) + "\n")
    attribution = attribution_figure()
    quality = json.loads(paths.GAN_QUALITY.read_text()) if paths.GAN_QUALITY.is_file() else None
    text = render_report(run_settings(params), detail, saliency.shares, saliency.looks, counts, attribution, quality)
    write_text(paths.REPORTS / "report.md", text)
    log.info("wrote %s and %s", paths.REPORTS / "report.md", Path(FIGURES))


if __name__ == "__main__":
    run_command("report", main)
