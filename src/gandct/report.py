"""report stage: figures, saliency numbers and `reports/report.md` from the features, models and metrics.

Figures (reports/figures/): samples.png, mean_spectra.png, mean_spectra_unseen.png, diagonal_profile.png,
training_curves.png, roc_test.png, saliency/<model>.png, saliency/mean.png. Numbers: reports/saliency.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
from pathlib import Path

import numpy as np

from gandct import figures, paths, twins
from gandct.cli import run_command
from gandct.datasets import load_split
from gandct.detector import Detector
from gandct.detector_names import DCT, PIXELS
from gandct.errors import GandctError
from gandct.fileio import read_csv, write_text
from gandct.images import load_rgb
from gandct.logs import setup_logging
from gandct.params import Params, load_params
from gandct.saliency import high_frequency_share, quadrant_shares, saliency_maps

log = logging.getLogger(__name__)

FIGURES = paths.FIGURES
SET_TITLES = {"test": "clean test", "test_unseen": "unseen generator"}
QUADRANT_NAMES = {
    "low": "low-frequency (top-left)",
    "high_horizontal": "high horizontal, low vertical frequency (top-right)",
    "high_vertical": "high vertical, low horizontal frequency (bottom-left)",
    "high": "high-frequency (bottom-right)",
}
SHARE_COLUMNS = ("vanilla", "vanilla_real", "vanilla_fake", "smoothgrad")


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


def training_history(name: str) -> dict[str, list[float]]:
    """Per-epoch loss and accuracy of a detector, read back from its dvclive logs (one step for linear)."""
    folder = paths.REPORTS / "train" / name / "plots" / "metrics"
    history = {}
    for stage, prefix in (("train", ""), ("eval", "val_")):
        for metric in ("loss", "accuracy"):
            tsv = folder / stage / f"{metric}.tsv"
            if not tsv.is_file():
                raise GandctError(f"{tsv} not found; run the train stage first (dvc repro train)")
            with tsv.open(newline="") as handle:
                history[prefix + metric] = [float(row[metric]) for row in csv.DictReader(handle, delimiter="\t")]
    return history


def by_kind(maps: np.ndarray, rows: list[dict[str, str]]) -> dict[str, np.ndarray]:
    """Split a set's maps into reals and each generator's fakes."""
    kinds = [kind_of(row) for row in rows]
    return {kind: maps[[i for i, k in enumerate(kinds) if k == kind]] for kind in sorted(set(kinds))}


def spectra_figures() -> dict[str, int]:
    """Mean spectra, their difference and the diagonal profiles; return image counts per kind."""
    test, test_rows = channel_mean_spectra("test")
    unseen, unseen_rows = channel_mean_spectra("test_unseen")
    groups = by_kind(test, test_rows)  # test_unseen's reals are the test reals: take only its fakes
    groups |= {kind: maps for kind, maps in by_kind(unseen, unseen_rows).items() if kind != "real"}
    real = groups["real"].mean(axis=0)
    test_fakes = test[[row["label"] == "1" for row in test_rows]].mean(axis=0)
    unseen_fakes = unseen[[row["label"] == "1" for row in unseen_rows]].mean(axis=0)
    figures.plot_mean_spectra(real, test_fakes, "test-split fake", FIGURES / "mean_spectra.png")
    figures.plot_mean_spectra(real, unseen_fakes, "unseen-generator fake", FIGURES / "mean_spectra_unseen.png")
    k = np.arange(real.shape[0])
    profiles = {kind: (maps[:, k, k].mean(axis=0), maps[:, k, k].std(axis=0)) for kind, maps in groups.items()}
    figures.plot_diagonal_profiles(profiles, FIGURES / "diagonal_profile.png")
    return {kind: len(maps) for kind, maps in groups.items()}


def sample_grid(params: Params) -> None:
    """Real test images beside each generator's fakes, at the size they were stored."""
    rng = np.random.default_rng(params.seed)
    rows = {}
    for split in ("test", "test_unseen"):
        ids = read_csv(paths.features_file(split, "ids.csv"))
        for kind in sorted({kind_of(row) for row in ids}):
            if kind not in rows:
                chosen = pick(ids, kind, params.report.examples_per_class, rng)
                rows[kind] = [load_rgb(ids[i]["path"]) for i in chosen]
    figures.plot_image_grid(rows, FIGURES / "samples.png", "test images: real photographs and generated fakes")


def saliency_report(params: Params) -> dict[str, dict[str, float]]:
    """Saliency examples and means of each DCT detector; return its high-frequency shares.

    Vanilla gradients cover the whole test split; SmoothGrad, 20-odd times dearer, covers a seeded
    sample of `report.smoothgrad_images` test images, enough to check that it agrees.
    """
    fitted, y_test = load_split("test", PIXELS)
    fitted, y_test = np.asarray(fitted), np.asarray(y_test)
    rows = read_csv(paths.features_file("test", "ids.csv"))
    rng = np.random.default_rng(params.seed)
    kinds = sorted({kind_of(row) for row in rows}, key=lambda kind: (kind != "real", kind))
    examples = [i for kind in kinds for i in pick(rows, kind, params.report.examples_per_class, rng)]
    sample = np.sort(rng.choice(len(fitted), size=min(params.report.smoothgrad_images, len(fitted)), replace=False))
    smooth = {
        "smooth_samples": params.report.smooth_samples,
        "smooth_noise": params.report.smooth_noise,
        "seed": params.seed,
    }
    shares, means = {}, {}
    for name in params.report.saliency_models:  # DCT detectors that were trained: params.py checks both
        detector = Detector.load(paths.detector_model(name))
        model, x_test = detector.model, detector.inputs(fitted)
        vanilla = saliency_maps(model, x_test)
        smoothed = saliency_maps(model, x_test[sample], **smooth)
        captions = [kind_of(rows[i]) for i in examples]
        example_smooth = saliency_maps(model, x_test[examples], **smooth)
        figures.plot_saliency_examples(
            x_test[examples], vanilla[examples], example_smooth, captions, name, FIGURES / "saliency" / f"{name}.png"
        )
        shares[name] = {
            "vanilla": round(high_frequency_share(vanilla), 4),
            "vanilla_real": round(high_frequency_share(vanilla[y_test == 0]), 4),
            "vanilla_fake": round(high_frequency_share(vanilla[y_test == 1]), 4),
            "smoothgrad": round(high_frequency_share(smoothed), 4),
            "uniform": 0.25,
            "quadrants": {quadrant: round(share, 4) for quadrant, share in quadrant_shares(vanilla).items()},
        }
        means[name] = (vanilla / vanilla.sum(axis=(1, 2), keepdims=True)).mean(axis=0)
    figures.plot_mean_saliency(means, {n: s["vanilla"] for n, s in shares.items()}, FIGURES / "saliency" / "mean.png")
    return shares


def metrics_table(results: dict[str, dict[str, dict]], key: str) -> str:
    """A Markdown table: one row per model, one column per test set."""
    sets = list(next(iter(results.values())))
    header = "| model | " + " | ".join(SET_TITLES.get(s, s) for s in sets) + " |"
    lines = [header, "|---" * (len(sets) + 1) + "|"]
    for name, by_set in results.items():
        lines.append(f"| {name} | " + " | ".join(f"{by_set[s][key]:.3f}" for s in sets) + " |")
    return "\n".join(lines)


def saliency_table(shares: dict[str, dict[str, float]]) -> str:
    """A Markdown table of the high-frequency saliency shares, one row per model."""
    lines = ["| model | vanilla | vanilla, reals | vanilla, fakes | SmoothGrad |", "|---|---|---|---|---|"]
    lines += [
        "| " + " | ".join([name] + [f"{s[key]:.3f}" for key in SHARE_COLUMNS]) + " |" for name, s in shares.items()
    ]
    return "\n".join(lines)


def compare(results: dict[str, dict[str, dict]], first: str, second: str) -> list[str]:
    """Sentences on where `first` beats, ties or trails `second` (accuracy, then ROC AUC)."""
    if first not in results or second not in results:
        return []
    wins, ties, losses = [], [], []
    for test_set in results[first]:
        a, b = results[first][test_set], results[second][test_set]
        pair = ((a["accuracy"], a["roc_auc"]), (b["accuracy"], b["roc_auc"]))
        (wins if pair[0] > pair[1] else ties if pair[0] == pair[1] else losses).append(
            SET_TITLES.get(test_set, test_set)
        )
    total = len(results[first])
    sentence = f"`{first}` against `{second}` (accuracy, then ROC AUC): better on {len(wins)} of {total} test sets"
    if wins:
        sentence += f" ({', '.join(wins)})"
    if ties:
        sentence += f", equal on {', '.join(ties)}"
    if losses:
        sentence += f", worse on {', '.join(losses)}"
    return [sentence + "."]


def reading(results: dict, shares: dict[str, dict]) -> str:
    """A short plain-language reading, every claim computed from the numbers above it."""
    lines = compare(results, "custom", "paper") + compare(results, "paper", "paper_pixel")
    if "paper" in results and "paper_pixel" in results:
        dct, pixel = results["paper"]["test"]["accuracy"], results["paper_pixel"]["test"]["accuracy"]
        lines.append(
            f"The same CNN reaches {dct:.1%} test accuracy on DCT maps and {pixel:.1%} on pixels: "
            + (
                "the frequency representation makes the task easier."
                if dct > pixel
                else "here the DCT input does not help."
            )
        )
    for name, share in shares.items():
        verdict = "more" if share["vanilla"] > share["uniform"] else "less"
        largest = max(share["quadrants"], key=share["quadrants"].get)
        lines.append(
            f"`{name}` puts {share['vanilla']:.0%} of its saliency in the high-frequency (bottom-right) quadrant, "
            f"{verdict} than the 25% of a uniform map (SmoothGrad: {share['smoothgrad']:.0%}); its largest share, "
            f"{share['quadrants'][largest]:.0%}, is in the {QUADRANT_NAMES[largest]} quadrant."
        )
    return "\n".join(f"- {line}" for line in lines)


def figure(name: str, text: str) -> str:
    """Markdown for one figure of reports/figures/."""
    return f"![{text}](figures/{name})"


def write_report(params: Params, results: dict, shares: dict, counts: dict[str, int]) -> None:
    """reports/report.md: tables, figures and the reading, all from this run's files."""
    sections = [
        "# gandct report",
        f"Data source `{params.data.source}`, seed {params.seed}, DCT of {params.features.image_size}px "
        f"{params.features.color} images. Every number and figure below is regenerated by `dvc repro`.",
        "## Data",
        "Test images per kind: " + ", ".join(f"{kind} {n}" for kind, n in counts.items()) + ".",
        figure("samples.png", "real and generated test images"),
        "## The evidence: spectra",
        "Mean log-magnitude DCT spectra (lowest frequency top-left, highest bottom-right; the outlined quadrant "
        "holds the highest frequencies). In the difference map red means more energy in the fakes than in the reals.",
        figure("mean_spectra.png", "mean spectra, test split"),
        figure("mean_spectra_unseen.png", "mean spectra, unseen generator"),
        figure("diagonal_profile.png", "spectrum along the diagonal"),
        figure("twin_pairs.png", "test reals, their autogan twins and the spectral difference"),
        "## Detectors",
        "Accuracy (threshold 0.5):",
        metrics_table(results, "accuracy"),
        "ROC AUC:",
        metrics_table(results, "roc_auc"),
        "Perturbed sets re-encode, blur, rescale or add noise to every test image of both classes before the "
        "transform; the unseen generator is a DCGAN no detector was trained on.",
        figure("roc_test.png", "ROC curves, clean test split"),
        figure("training_curves.png", "training curves"),
        "## Where the detectors look",
        "Share of saliency mass (|d logit / d input|, tf-keras-vis) in the high-frequency quadrant: vanilla "
        f"gradients over the whole test split (and per class), SmoothGrad over {params.report.smoothgrad_images} "
        "test images; a uniform map gives 0.25.",
        saliency_table(shares),
        figure("saliency/mean.png", "mean saliency"),
        *[figure(f"saliency/{name}.png", f"saliency examples, {name}") for name in shares],
        "## Reading",
        reading(results, shares),
    ]
    write_text(paths.REPORTS / "report.md", "\n\n".join(sections) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="gandct report", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    setup_logging()
    params = load_params()
    metrics_file = paths.REPORTS / "metrics.json"
    if not metrics_file.is_file():
        raise GandctError(f"{metrics_file} not found; run the evaluate stage first (dvc repro evaluate)")
    results = json.loads(metrics_file.read_text())

    sample_grid(params)
    counts = spectra_figures()
    figures.plot_twin_pairs(
        *twins.paired_examples(params.report.examples_per_class, params.seed), FIGURES / "twin_pairs.png"
    )
    histories = {name: training_history(name) for name in params.train.models}
    figures.plot_training_curves(histories, FIGURES / "training_curves.png")
    roc = {}
    for name in params.train.models:
        points = read_csv(paths.REPORTS / "evaluate" / "roc" / f"{name}.csv")
        fpr, tpr = (np.array([float(p[k]) for p in points]) for k in ("fpr", "tpr"))
        roc[name] = (fpr, tpr, results[name]["test"]["roc_auc"])
    figures.plot_roc_curves(roc, FIGURES / "roc_test.png", "clean test split")
    shares = saliency_report(params)
    write_text(paths.REPORTS / "saliency.json", json.dumps(shares, indent=2) + "\n")
    write_report(params, results, shares, counts)
    log.info("wrote %s and %s", paths.REPORTS / "report.md", Path(FIGURES))


if __name__ == "__main__":
    run_command("report", main)
