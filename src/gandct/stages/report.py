"""report stage: `reports/report.md` and its figures from the other stages' numbers; it loads no model.

Figures (reports/figures/): samples.png, mean_spectra.png, mean_spectra_unseen.png (the DCGAN's),
diagonal_profile.png, generator_roc_auc.png (detectors by test generators), training_curves.png (each
detector's best val-loss seed), roc_test.png (the seed ensembles), seed_roc_auc.png (every seed on every test
set), reliability.png (the shipped detector's p_fake per test generator), attribution_confusion.png. Tables and
comparisons come from reports/evaluate/detail.json, where the detectors look from reports/saliency.json (the
saliency stage, which also draws the saliency and twin figures), the fakes' quality from
reports/augment/quality.json; `gandct.report_markdown` writes the report's text from those numbers.
`reports/data.json` holds what each split holds (its photographs by stratum and first encoding, its images):
docs/data.md quotes it.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
from collections import Counter
from pathlib import Path

import numpy as np

from gandct import figures, paths, report_figures
from gandct.claim import CLAIM
from gandct.detector_names import SEEDLESS
from gandct.entry import run_command
from gandct.errors import GandctError
from gandct.fileio import read_csv, write_text
from gandct.images import load_rgb
from gandct.logs import setup_logging
from gandct.params import Params, load_params
from gandct.report_markdown import (
    RunSettings,
    column_title,
    generator_sets,
    render_report,
    set_title,
    short_source,
)
from gandct.test_sets import channel_mean_spectra, kind_of, pick

log = logging.getLogger(__name__)

DATA = paths.REPORTS / "data.json"

FIGURES = paths.FIGURES
SALIENCY = paths.REPORTS / "saliency.json"  # the saliency stage's numbers


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


def curves_seed(name: str) -> int:
    """The seed whose training curves the report draws: the one with the lowest val loss (train's best_seed)."""
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
    report_figures.plot_mean_spectra(real, fakes["test"], "ProGAN fake", FIGURES / "mean_spectra.png")
    report_figures.plot_mean_spectra(real, fakes["test_dcgan"], "DCGAN fake", FIGURES / "mean_spectra_unseen.png")
    k = np.arange(real.shape[0])
    profiles = {kind: (maps[:, k, k].mean(axis=0), maps[:, k, k].std(axis=0)) for kind, maps in groups.items()}
    report_figures.plot_diagonal_profiles(profiles, FIGURES / "diagonal_profile.png")
    return {kind: len(maps) for kind, maps in groups.items()}


def split_composition() -> dict[str, dict]:
    """Per split: its photographs (the manifest's groups) with their count per stratum and per first encoding, its
    real images, and its fakes by generator: for train and val those the detectors learnt from (their feature
    sets), for test each generator's test set."""
    manifest = read_csv(paths.MANIFEST)
    splits = {}
    for split in ("train", "val", "test"):
        reals = [row for row in manifest if row["split"] == split and row["label"] == "real"]
        sets = [split] if split != "test" else list(paths.TEST_SETS)
        fakes: dict[str, int] = {}
        for found in sets:
            for row in read_csv(paths.features_file(found, "ids.csv")):
                if row["label"] == "1":
                    fakes[row["generator"]] = fakes.get(row["generator"], 0) + 1
        photos = {row["group"]: row for row in reals}
        splits[split] = {
            "photos": sorted(photos),
            "strata": dict(sorted(Counter(row["stratum"] or "unstratified" for row in photos.values()).items())),
            "formats": dict(sorted(Counter(row["format"] for row in photos.values()).items())),
            "real": len(reals),
            "fakes": fakes,
        }
    return splits


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
    report_figures.plot_image_grid(rows, FIGURES / "samples.png", "test images: real photographs and generated fakes")


def seed_spread_figure(detectors: dict[str, dict], metric: str, path: Path) -> None:
    """Every seed's `metric` and the ensemble's, per test set and detector (`report_figures.plot_seed_spread`)."""
    sets = list(next(iter(detectors.values()))["sets"])
    per_seed = {
        set_title(s): {name: list(r["sets"][s]["seeds"][metric]["seeds"].values()) for name, r in detectors.items()}
        for s in sets
    }
    ensemble = {set_title(s): {name: r["sets"][s]["ensemble"][metric] for name, r in detectors.items()} for s in sets}
    report_figures.plot_seed_spread(per_seed, ensemble, metric, path)


def generator_heatmap(detectors: dict[str, dict], unseen: list[str], path: Path) -> None:
    """The seed-mean ROC AUC of every detector on every test generator and the unseen mean, as a heat map."""
    sets = generator_sets(detectors)
    values = np.array([[r["sets"][s]["seeds"]["roc_auc"]["mean"] for s in sets] for r in detectors.values()])
    report_figures.plot_generator_heatmap(values, list(detectors), [column_title(s, unseen) for s in sets], path)


def reliability_figure(detectors: dict[str, dict], unseen: list[str], path: Path) -> None:
    """reliability.png: the reliability diagram of the shipped detector's seed ensemble (gandct.claim.CLAIM's
    first, `custom`), one panel each for the sets of the generators it trained on, those built here it never
    saw, and the third-party ones."""
    name = CLAIM[0] if CLAIM[0] in detectors else next(iter(detectors))
    sets = detectors[name]["sets"]
    groups = {
        "trained on": [s for s in paths.TEST_SETS if s not in (*unseen, *paths.THIRD_PARTY_SETS)],
        "built here, never seen": unseen,
        "third party, never seen": list(paths.THIRD_PARTY_SETS),
    }
    panels = {
        panel: {set_title(s): sets[s]["reliability"] for s in members if s in sets}
        for panel, members in groups.items()
        if any(s in sets for s in members)
    }
    report_figures.plot_reliability(panels, f"{name}, seed ensemble: reliability of p_fake", path)


def roc_figure(params: Params, detail: dict) -> None:
    """roc_test.png: each detector's seed ensemble on the ProGAN test set, as the evaluate stage wrote its curve."""
    roc = {}
    for name in params.train.models:
        points = read_csv(paths.EVALUATION / "roc" / f"{name}.csv")
        fpr, tpr = (np.array([float(p[k]) for p in points]) for k in ("fpr", "tpr"))
        roc[name] = (fpr, tpr, detail["detectors"][name]["sets"]["test"]["ensemble"]["roc_auc"])
    report_figures.plot_roc_curves(roc, FIGURES / "roc_test.png", "ProGAN test set, seed ensembles")


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
        f"{name}, seed ensemble: accuracy {found['ensemble']['accuracy']:.3f}": np.asarray(
            found["ensemble"]["confusion"]
        )
        for name, found in attribution["models"].items()
    }
    classes = [short_source(source) for source in attribution["classes"]]
    report_figures.plot_confusion_matrices(matrices, classes, paths.ATTRIBUTION_FIGURE)
    return attribution


def saliency_measures() -> tuple[dict[str, dict], dict[str, dict[str, dict]]]:
    """reports/saliency.json as the report reads it: per model its high-frequency shares, and per set and model
    its frequency measures."""
    if not SALIENCY.is_file():
        raise GandctError(f"{SALIENCY} not found; run the saliency stage first (dvc repro saliency)")
    numbers = json.loads(SALIENCY.read_text())
    shares = {
        name: {key: value for key, value in entry.items() if key != "frequency"} for name, entry in numbers.items()
    }
    sets = next(iter(numbers.values()))["frequency"] if numbers else {}
    looks = {split: {name: entry["frequency"][split] for name, entry in numbers.items()} for split in sets}
    return shares, looks


def main(argv: list[str] | None = None) -> None:
    """Run the stage: draw the figures and write reports/report.md."""
    parser = argparse.ArgumentParser(prog="gandct report", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    setup_logging()
    params = load_params()
    if not paths.EVALUATION_DETAIL.is_file():
        raise GandctError(f"{paths.EVALUATION_DETAIL} not found; run the evaluate stage first (dvc repro evaluate)")
    detail = json.loads(paths.EVALUATION_DETAIL.read_text())

    sample_grid(params)
    counts = spectra_figures()
    histories = {name: training_history(name, curves_seed(name)) for name in params.train.models}
    figures.plot_training_curves(histories, FIGURES / "training_curves.png")
    roc_figure(params, detail)
    seed_spread_figure(detail["detectors"], "roc_auc", FIGURES / "seed_roc_auc.png")
    generator_heatmap(detail["detectors"], detail.get("unseen_sets", []), FIGURES / "generator_roc_auc.png")
    reliability_figure(detail["detectors"], detail.get("unseen_sets", []), FIGURES / "reliability.png")
    shares, looks = saliency_measures()
    attribution = attribution_figure()
    quality = json.loads(paths.GAN_QUALITY.read_text()) if paths.GAN_QUALITY.is_file() else None
    splits = split_composition()
    write_text(DATA, json.dumps(splits, indent=1) + "\n")
    text = render_report(run_settings(params), detail, shares, looks, counts, attribution, quality, splits)
    write_text(paths.REPORTS / "report.md", text)
    log.info("wrote %s and %s", paths.REPORTS / "report.md", Path(FIGURES))


if __name__ == "__main__":
    run_command("report", main)
