"""report stage: figures, saliency numbers and `reports/report.md` from the features, models and metrics.

Figures (reports/figures/): samples.png, mean_spectra.png, mean_spectra_unseen.png (the DCGAN's),
diagonal_profile.png, twin_pairs_<family>.png (each auto-encoder family's twins, their mean difference
spectrum and the detectors' saliency on them), generator_roc_auc.png (detectors by test generators),
training_curves.png (each detector's best val-loss seed), roc_test.png (the seed ensembles), seed_roc_auc.png
(every seed on every test set), saliency/<model>.png, saliency/mean.png, saliency/bands_<set>.png and
saliency/peaks_<set>.png. Numbers: reports/saliency.json. Tables and comparisons come from
reports/evaluate/detail.json, the fakes' quality from reports/augment/quality.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
from pathlib import Path

import numpy as np

from gandct import figures, paths, twin_spectra
from gandct.cli import run_command
from gandct.comparison import BootstrapInterval, describe, verdict
from gandct.datasets import load_split
from gandct.detector import Detector
from gandct.detector_names import DCT, PIXELS, SEEDLESS
from gandct.errors import GandctError
from gandct.fileio import read_csv, write_text
from gandct.frequency_measures import class_difference, unit_mass, where_it_looks
from gandct.images import load_rgb
from gandct.logs import setup_logging
from gandct.params import Params, load_params
from gandct.saliency import high_frequency_share, quadrant_shares, saliency_maps

log = logging.getLogger(__name__)

FIGURES = paths.FIGURES
GENERATOR_TITLES = {"progan": "ProGAN", "dcgan": "DCGAN"} | {
    gan: f"{gan.removeprefix('autogan_')} twins" for gan in paths.AUTOGAN_GENERATORS
}
SET_TITLES = {test_set: GENERATOR_TITLES[gan] for test_set, gan in paths.SPLIT_GENERATOR.items()} | {
    paths.UNSEEN_MEAN: "unseen mean"
}
# Each auto-encoder family's test set, and the family: {"test_autogan_nearest": "nearest", ...}
TWIN_SETS = {
    test_set: gan.removeprefix("autogan_")
    for test_set, gan in paths.SPLIT_GENERATOR.items()
    if gan in paths.AUTOGAN_GENERATORS
}
# The sets on which where the detectors look is measured: the ProGAN's, and each family's controlled pairs.
LOOK_SETS = ("test", *TWIN_SETS)
METRIC_TITLES = {"accuracy": "accuracy at the val threshold", "roc_auc": "ROC AUC"}
# The table of Wang et al. 2020 per test generator: (metric key, what it is)
GENERATOR_METRICS = (
    ("roc_auc", "ROC AUC"),
    ("average_precision", "average precision"),
    ("accuracy_at_val_threshold", "accuracy at each seed's val threshold"),
    ("real_accuracy_at_val_threshold", "accuracy on the reals alone, at the val threshold"),
    ("fake_accuracy_at_val_threshold", "accuracy on the fakes alone, at the val threshold"),
    ("oracle_accuracy", "oracle accuracy: at the threshold best on that very set"),
    ("detection_at_5_percent_false_alarms", "detection rate at 5% of the reals called fake (PD@5%)"),
)
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
    for split in ("test", "test_dcgan"):  # the twins are in their own figures, beside their photos
        ids = read_csv(paths.features_file(split, "ids.csv"))
        for kind in sorted({kind_of(row) for row in ids}):
            if kind not in rows:
                chosen = pick(ids, kind, params.report.examples_per_class, rng)
                rows[kind] = [load_rgb(ids[i]["path"]) for i in chosen]
    figures.plot_image_grid(rows, FIGURES / "samples.png", "test images: real photographs and generated fakes")


def saliency_report(params: Params) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, dict]], dict]:
    """Saliency examples and means of each DCT detector; return its quadrant shares on the test split, for
    each of `LOOK_SETS` its frequency measures (`frequency_measures.where_it_looks`), and its mean saliency
    map on each set ({set: {model: map}}).

    Vanilla gradients cover every image of a set; SmoothGrad, 20-odd times dearer, covers a seeded sample of
    `report.smoothgrad_images` test images, enough to check that it agrees.
    """
    sets = {split: [np.asarray(part) for part in load_split(split, PIXELS)] for split in LOOK_SETS}
    spectra = {split: channel_mean_spectra(split)[0] for split in LOOK_SETS}
    fitted, y_test = sets["test"]
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
    shares, means, looks = {}, {}, {split: {} for split in LOOK_SETS}
    set_means: dict[str, dict[str, np.ndarray]] = {split: {} for split in LOOK_SETS}
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
        means[name] = unit_mass(vanilla).mean(axis=0)
        for split in LOOK_SETS:
            images, labels = sets[split]
            maps = vanilla if split == "test" else saliency_maps(model, detector.inputs(images))
            set_means[split][name] = unit_mass(maps).mean(axis=0)
            looks[split][name] = where_it_looks(
                maps,
                spectra[split],
                labels,
                bands=params.report.frequency_bands,
                resamples=params.evaluate.bootstrap_resamples,
                seed=params.seed,
            )
    figures.plot_mean_saliency(means, {n: s["vanilla"] for n, s in shares.items()}, FIGURES / "saliency" / "mean.png")
    for split, by_model in looks.items():
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
            class_difference(spectra[split], sets[split][1]),
            np.array(first["peak_positions"]).reshape(-1, 2),
            FIGURES / "saliency" / f"peaks_{split}.png",
            f"{set_title(split)}: mean fake - mean real log-spectrum",
        )
    return shares, looks, set_means


def spread(summary: dict) -> str:
    """ "0.981 ± 0.004" (mean ± std over seeds), or the mean alone with one seed; "n/a" where undefined."""
    if summary["mean"] is None:
        return "n/a"
    return f"{summary['mean']:.3f}" + (f" ± {summary['std']:.3f}" if summary["std"] is not None else "")


def set_title(test_set: str) -> str:
    return SET_TITLES.get(test_set, test_set)


def sentence_start(text: str) -> str:
    """`text` with its first letter upper case and the rest as it is ("ProGAN" stays "ProGAN")."""
    return text[:1].upper() + text[1:]


def generator_sets(detectors: dict[str, dict]) -> list[str]:
    """The per-generator test sets the detectors were scored on, then the unseen mean."""
    present = next(iter(detectors.values()))["sets"]
    return [s for s in (*paths.TEST_SETS, paths.UNSEEN_MEAN) if s in present]


def perturbed_sets(detectors: dict[str, dict]) -> list[str]:
    """The perturbed copies of the ProGAN's test set, in evaluate's order."""
    return [s for s in next(iter(detectors.values()))["sets"] if s not in (*paths.TEST_SETS, paths.UNSEEN_MEAN)]


def column_title(test_set: str, unseen: list[str]) -> str:
    """A generator set's column title, marked when the detectors trained on that generator."""
    seen = test_set in paths.SPLIT_GENERATOR and test_set not in unseen
    return set_title(test_set) + (" (seen)" if seen else "")


def metrics_table(detectors: dict[str, dict], key: str, sets: list[str], unseen: list[str] = ()) -> str:
    """A Markdown table: one row per model, one column per test set, mean ± std over seeds of `key`."""
    header = "| model (seeds) | " + " | ".join(column_title(s, unseen) for s in sets) + " |"
    lines = [header, "|---" * (len(sets) + 1) + "|"]
    for name, result in detectors.items():
        cells = [spread(result["sets"][s]["seeds"][key]) for s in sets]
        lines.append(f"| {name} ({len(result['seeds'])}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ensemble_table(detectors: dict[str, dict], key: str, sets: list[str]) -> str:
    """A Markdown table: one row per model, one column per test set, `key` of its seed ensemble."""
    lines = ["| model (seeds) | " + " | ".join(set_title(s) for s in sets) + " |", "|---" * (len(sets) + 1) + "|"]
    for name, result in detectors.items():
        cells = ["n/a" if (value := result["sets"][s]["ensemble"][key]) is None else f"{value:.3f}" for s in sets]
        lines.append(f"| {name} ({len(result['seeds'])}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def seed_spread_figure(detectors: dict[str, dict], metric: str, path: Path) -> None:
    """Every seed's `metric` and the ensemble's, per test set and detector (`figures.plot_seed_spread`)."""
    sets = list(next(iter(detectors.values()))["sets"])
    per_seed = {
        set_title(s): {name: list(r["sets"][s]["seeds"][metric]["seeds"].values()) for name, r in detectors.items()}
        for s in sets
    }
    ensemble = {set_title(s): {name: r["sets"][s]["ensemble"][metric] for name, r in detectors.items()} for s in sets}
    figures.plot_seed_spread(per_seed, ensemble, metric, path)


def interval_of(found: dict | None) -> BootstrapInterval | None:
    return BootstrapInterval.from_dict(found) if found else None


def interval_cell(found: dict | None) -> str:
    """ "+0.012 [+0.004, +0.020] better": the difference, its interval and the verdict it gives."""
    interval = interval_of(found)
    if interval is None:
        return "n/a"
    return f"{interval.difference:+.3f} [{interval.low:+.3f}, {interval.high:+.3f}] {verdict(interval)}"


def intervals_table(comparisons: dict[str, dict], sets: list[str]) -> str:
    """A Markdown table: one row per comparison and metric, one column per test set of `sets`."""
    if not comparisons:
        return "No compared pair of detectors was trained."
    lines = ["| difference | " + " | ".join(set_title(s) for s in sets) + " |", "|---" * (len(sets) + 1) + "|"]
    for pair, by_set in comparisons.items():
        for metric in next(iter(by_set.values())):
            cells = [interval_cell(by_set[s][metric]) for s in sets]
            lines.append(f"| {pair}, {METRIC_TITLES[metric]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def saliency_table(shares: dict[str, dict[str, float]]) -> str:
    """A Markdown table of the high-frequency saliency shares, one row per model."""
    lines = ["| model | vanilla | vanilla, reals | vanilla, fakes | SmoothGrad |", "|---|---|---|---|---|"]
    lines += [
        "| " + " | ".join([name] + [f"{s[key]:.3f}" for key in SHARE_COLUMNS]) + " |" for name, s in shares.items()
    ]
    return "\n".join(lines)


def rank_text(look: dict) -> str:
    """ "+0.41 [+0.35, +0.47]": the Spearman correlation and its interval; "n/a" where undefined."""
    rho, interval = look["spearman"], look["spearman_interval"]
    if rho is None:
        return "n/a"
    return f"{rho:+.2f}" + (f" [{interval[0]:+.2f}, {interval[1]:+.2f}]" if interval else "")


def look_table(looks: dict[str, dict[str, dict]]) -> str:
    """A Markdown table of the frequency measures: one row per test set and detector."""
    lines = [
        "| set | model | Spearman rho with \\|fake - real\\| [95%] | mean diagonal frequency: saliency, "
        "\\|fake - real\\| (uniform 0.50) | saliency on the difference's peaks (uniform share, ratio) |",
        "|---|---|---|---|---|",
    ]
    for split, by_model in looks.items():
        for name, look in by_model.items():
            peaks = look["peaks"]
            ratio = "n/a" if peaks["ratio"] is None else f"{peaks['ratio']:.2f}"
            lines.append(
                f"| {set_title(split)} | {name} | {rank_text(look)} | {look['saliency_mean_frequency']:.2f}, "
                f"{look['difference_mean_frequency']:.2f} | {peaks['peaks']} peaks: {peaks['share']:.1%} "
                f"({peaks['uniform']:.1%}, {ratio}) |"
            )
    return "\n".join(lines)


def difference_sentence(split: str, look: dict) -> str:
    """Where one set's fakes differ most from its reals, by coefficient and by band, from the numbers alone."""
    largest = look["largest_differences"]
    spots = ", ".join(f"({d['row']}, {d['column']}) {d['difference']:+.2f}" for d in largest)
    frequencies = ", ".join(f"{d['t']:.2f}" for d in largest)
    profile, uniform = np.array(look["difference_profile"]), np.array(look["uniform_profile"])
    band = int(np.argmax(profile / uniform))
    high = look["high_quadrant_difference"]
    energy = "more" if high > 0 else "less"
    return (
        f"{sentence_start(set_title(split))}: the mean log-spectra of fakes and reals differ most at (row, column) "
        f"{spots} (diagonal frequencies {frequencies}); per coefficient the "
        f"difference is largest, {profile[band] / uniform[band]:.1f} times the average, in the band around diagonal "
        f"frequency {look['band_centres'][band]:.2f}; in the high-frequency quadrant the fakes carry {energy} energy "
        f"than the reals (mean log ratio {high:+.2f}), and the difference map has {look['peaks']['peaks']} isolated "
        "peaks and troughs."
    )


def look_sentence(split: str, name: str, look: dict) -> str:
    """Whether a detector looks where one set's classes differ, and whether that is toward the high frequencies,
    stated from the numbers alone."""
    interval = look["spearman_interval"]
    if look["spearman"] is None or interval is None:
        where = "its saliency map or the class difference is flat, so their ranks cannot be compared"
    elif interval[0] > 0 or interval[1] < 0:
        # Strength by the usual reading of |rho|: below 0.3 weak, below 0.5 moderate, else strong.
        size = abs(look["spearman"])
        strength = "weakly" if size < 0.3 else "moderately" if size < 0.5 else "strongly"
        toward = "where the classes differ" if interval[0] > 0 else "away from where the classes differ"
        where = f"its saliency follows the class difference {strength}, {toward} (Spearman rho {rank_text(look)})"
    else:
        where = f"its saliency is not clearly related to where the classes differ (Spearman rho {rank_text(look)})"
    centre, uniform = look["saliency_mean_frequency"], look["uniform_mean_frequency"]
    side = "higher" if centre > uniform else "lower"
    peaks = look["peaks"]
    if peaks["ratio"] is None:
        on_peaks = "the class difference has no isolated peaks or troughs"
    else:
        # A point estimate without an interval: within a quarter of chance it is read as chance.
        times = "above" if peaks["ratio"] > 1.25 else "below" if peaks["ratio"] < 0.8 else "about"
        on_peaks = (
            f"it puts {peaks['share']:.1%} of its saliency on the {peaks['peaks']} isolated peaks and troughs of the "
            f"class difference, {peaks['ratio']:.2f} times a uniform map's {peaks['uniform']:.1%} ({times} chance)"
        )
    return (
        f"{sentence_start(set_title(split))}, `{name}`: {where}; its saliency centres at diagonal frequency "
        f"{centre:.2f}, {side} than a uniform map's {uniform:.2f} (the class difference centres at "
        f"{look['difference_mean_frequency']:.2f}); {on_peaks}."
    )


def compare(comparisons: dict[str, dict], pair: str) -> list[str]:
    """One sentence per metric on how the first detector of `pair` ("a - b") does against the second on every
    test set: "better", "worse" or "no clear difference", from the interval alone, with the interval."""
    if pair not in comparisons:
        return []
    first, second = pair.split(" - ")
    by_set = comparisons[pair]
    sentences = []
    for metric in next(iter(by_set.values())):
        parts = [f"{set_title(s)} {describe(interval_of(found[metric]))}" for s, found in by_set.items()]
        sentences.append(f"`{first}` against `{second}`, {METRIC_TITLES[metric]}: " + "; ".join(parts) + ".")
    return sentences


def reading(detail: dict, shares: dict[str, dict], looks: dict[str, dict[str, dict]]) -> str:
    """A short plain-language reading, every claim computed from the numbers above it."""
    comparisons = detail["comparisons"]
    lines = [sentence for pair in comparisons for sentence in compare(comparisons, pair)]
    pixel = comparisons.get("paper - paper_pixel", {}).get("test", {}).get("accuracy")
    if pixel:
        interval = interval_of(pixel)
        meaning = {
            "better": "the frequency representation makes the task easier.",
            "worse": "here pixels serve the same CNN better than the DCT.",
            "no clear difference": "here the DCT input makes no clear difference.",
        }[verdict(interval)]
        lines.append(f"The same CNN on DCT maps against pixels, clean test accuracy: {describe(interval)}: {meaning}")
    for name, share in shares.items():
        more = "more" if share["vanilla"] > share["uniform"] else "less"
        largest = max(share["quadrants"], key=share["quadrants"].get)
        lines.append(
            f"`{name}` puts {share['vanilla']:.0%} of its saliency in the high-frequency (bottom-right) quadrant, "
            f"{more} than the 25% of a uniform map (SmoothGrad: {share['smoothgrad']:.0%}); its largest share, "
            f"{share['quadrants'][largest]:.0%}, is in the {QUADRANT_NAMES[largest]} quadrant."
        )
    for split, by_model in looks.items():
        lines.append(difference_sentence(split, next(iter(by_model.values()))))
        lines += [look_sentence(split, name, look) for name, look in by_model.items()]
    return "\n".join(f"- {line}" for line in lines)


def figure(name: str, text: str) -> str:
    """Markdown for one figure of reports/figures/."""
    return f"![{text}](figures/{name})"


def first_look_note(params: Params) -> list[str]:
    """A warning paragraph when the GANs ran with first-look budgets (`augment.first_look`), else nothing."""
    if not params.augment.first_look:
        return []
    return [
        "> **First look (`make quick`):** the GANs trained with small budgets; their fakes are not meant to pass "
        "for photographs, and the detector scores below say little. Run the full pipeline (`dvc repro`) for results."
    ]


SUMMARY_SETS = (paths.UNSEEN_MEAN, "jpeg_75")  # where the headline question is answered: never-seen fakes, re-encoding
CLAIM = ("custom", "paper")  # the project's claim: custom beats the paper's CNN
SECTIONS = (
    "Data",
    "The evidence: spectra",
    "Generators",
    "Detectors",
    "Comparisons",
    "Where the detectors look",
    "Reading",
)


def anchor(heading: str) -> str:
    """The Markdown link target of a `## heading` (lower case, spaces to dashes, punctuation dropped)."""
    return "#" + "".join(c for c in heading.lower().replace(" ", "-") if c.isalnum() or c == "-")


def quality_line(quality: dict | None) -> str:
    """The fakes' quality in one sentence, from reports/augment/quality.json."""
    if not quality:
        return "Fakes: no quality measured (`reports/augment/quality.json` missing)."
    ratios = {
        name: found["ratio_to_floor"]
        for name, found in quality.items()
        if isinstance(found, dict) and "ratio_to_floor" in found
    }
    reals = ratios.pop("test_reals", None)
    text = ", ".join(f"{name} {ratio:.2f}x" for name, ratio in ratios.items())
    floor = f" (the test photographs {reals:.2f}x)" if reals is not None else ""
    return f"Fakes: SWD to the train photographs as a multiple of the real-against-real floor: {text}{floor}."


def quality_table(quality: dict | None) -> str:
    """The whole quality table: per GAN its SWD to the train photos and that as a multiple of the floor, per
    auto-encoder family its twins' PSNR against their own photos."""
    if not quality:
        return "No quality measured (`reports/augment/quality.json` missing)."
    lines = [
        "| generator | SWD x 1e3, average over levels | SWD / floor | twin PSNR, median (p10, p90) dB |",
        "|---|---|---|---|",
    ]
    for name, found in quality.items():
        if not isinstance(found, dict):
            continue
        title = {"floor": "floor: train photos, other half", "test_reals": "test photos"}.get(
            name, GENERATOR_TITLES.get(name, name)
        )
        swd = f"{found['swd_avg']:.2f}" if "swd_avg" in found else ""
        ratio = f"{found['ratio_to_floor']:.2f}x" if "ratio_to_floor" in found else ("1.00x" if name == "floor" else "")
        psnr = (
            f"{found['psnr_median']:.2f} ({found['psnr_p10']:.2f}, {found['psnr_p90']:.2f})"
            if "psnr_median" in found
            else ""
        )
        lines.append(f"| {title} | {swd} | {ratio} | {psnr} |")
    return "\n".join(lines)


def twin_look_sentence(test_set: str, by_model: dict[str, dict]) -> str:
    """Whether the detectors look where one family's decoder acts, now that the content is the same."""
    first = next(iter(by_model.values()))
    corner = "inside" if first["difference_mean_frequency"] > first["uniform_mean_frequency"] else "outside"
    following = []
    for name, look in by_model.items():
        interval = look["spearman_interval"]
        if look["spearman"] is None or interval is None:
            following.append(f"`{name}` not measurable")
        else:
            word = (
                "follows it" if interval[0] > 0 else "looks away from it" if interval[1] < 0 else "is unrelated to it"
            )
            following.append(f"`{name}` {word} ({rank_text(look)})")
    return (
        f"{sentence_start(set_title(test_set))}: the decoder's difference centres at diagonal frequency "
        f"{first['difference_mean_frequency']:.2f} ({corner} the high-frequency half, uniform "
        f"{first['uniform_mean_frequency']:.2f}); saliency " + ", ".join(following) + "."
    )


def claim_verdict(comparisons: dict) -> str:
    """Whether `custom` beats `paper` in ROC AUC on SUMMARY_SETS and is worse nowhere, from the intervals."""
    pair = f"{CLAIM[0]} - {CLAIM[1]}"
    if pair not in comparisons:
        return f"`{CLAIM[0]}` beats `{CLAIM[1]}`: not asked (one of them is not in `train.models`)."
    by_set = comparisons[pair]
    on_sets = {s: verdict(interval_of(by_set[s]["roc_auc"])) for s in SUMMARY_SETS if s in by_set}
    worse = [s for s, found in by_set.items() if verdict(interval_of(found["roc_auc"])) == "worse"]
    holds = all(word == "better" for word in on_sets.values()) and not worse
    detail = "; ".join(f"{set_title(s)} {word}" for s, word in on_sets.items())
    worse_text = f"; worse on {', '.join(map(set_title, worse))}" if worse else "; worse on no test set"
    answer = "holds" if holds else "does not hold"
    return f"`{CLAIM[0]}` beats `{CLAIM[1]}` (ROC AUC): {answer} in this run ({detail}{worse_text})."


def corner_verdict(shares: dict) -> str:
    """Whether the detectors look at the high-frequency corner more than a uniform map would."""
    if not shares:
        return "High-frequency corner: no saliency measured."
    looks = {name: share["vanilla"] for name, share in shares.items()}
    more = all(share > 0.25 for share in looks.values())
    text = ", ".join(f"`{name}` {share:.0%}" for name, share in looks.items())
    answer = "yes" if more else "no"
    return f"Do the detectors look at the high-frequency corner? {answer}: share of saliency there {text}, uniform 25%."


def summary(params: Params, detail: dict, shares: dict, quality: dict | None) -> list[str]:
    """The report's opening: the question, the fakes' quality, the headline table and the two verdicts, from the
    same numbers and the same cell formats as the full tables below."""
    detectors, comparisons = detail["detectors"], detail["comparisons"]
    sets = [s for s in SUMMARY_SETS if s in next(iter(detectors.values()))["sets"]]
    header = "| ROC AUC | " + " | ".join(set_title(s) for s in sets) + " |"
    rows = [header, "|---" * (len(sets) + 1) + "|"]
    for name, result in detectors.items():
        rows.append(
            f"| {name} ({len(result['seeds'])}) | "
            + " | ".join(spread(result["sets"][s]["seeds"]["roc_auc"]) for s in sets)
            + " |"
        )
    pair = f"{CLAIM[0]} - {CLAIM[1]}"
    if pair in comparisons:
        rows.append(f"| {pair} | " + " | ".join(interval_cell(comparisons[pair][s]["roc_auc"]) for s in sets) + " |")
    return [
        "**Question.** Do detectors trained on one GAN's DCT spectra catch fakes of generators they never saw and "
        f"fakes re-encoded as JPEG, and does `{CLAIM[0]}` beat the CNN of Frank et al. 2020 (`{CLAIM[1]}`)? "
        + quality_line(quality),
        "\n".join(rows),
        "Seed mean ± standard deviation (seeds in brackets); unseen mean: over the generators no detector trained "
        f"on ({', '.join(set_title(s) for s in detail.get('unseen_sets', []))}); the difference row has its 95% "
        "interval over seeds and test images. " + claim_verdict(comparisons) + " " + corner_verdict(shares),
        "Sections: " + " · ".join(f"[{heading}]({anchor(heading)})" for heading in SECTIONS),
    ]


def write_report(
    params: Params, detail: dict, shares: dict, looks: dict, counts: dict[str, int], quality: dict | None = None
) -> None:
    """reports/report.md: tables, figures and the reading, all from this run's files."""
    detectors, comparisons = detail["detectors"], detail["comparisons"]
    unseen = detail.get("unseen_sets", [])
    by_generator, perturbed = generator_sets(detectors), perturbed_sets(detectors)
    twin_looks = {s: by_model for s, by_model in looks.items() if s in TWIN_SETS}
    sections = [
        "# gandct report",
        *first_look_note(params),
        *summary(params, detail, shares, quality),
        f"Data source `{params.data.source}`, seed {params.seed}, DCT of {params.features.image_size}px "
        f"{params.features.color} images, detectors trained on the fakes of {', '.join(params.train.fakes)}. "
        "Every number and figure below is regenerated by `dvc repro`.",
        "## Data",
        "Test images per kind: " + ", ".join(f"{kind} {n}" for kind, n in counts.items()) + ".",
        figure("samples.png", "real and generated test images"),
        "How close the fakes come to photographs: the GANs' multi-scale sliced Wasserstein distance (SWD) to the "
        "train photos, as a multiple of the distance between two halves of the train photos (the floor; other "
        "photos of the same kind score about the test photos' ratio); the auto-encoder twins' PSNR against the very "
        "photo each was made from (above 30 dB the twin differs from its photo by little more than its decoder's "
        "trace).",
        quality_table(quality),
        "## The evidence: spectra",
        "Mean log-magnitude DCT spectra (lowest frequency top-left, highest bottom-right; the outlined quadrant "
        "holds the highest frequencies). In the difference map red means more energy in the fakes than in the reals.",
        figure("mean_spectra.png", "mean spectra, ProGAN test set"),
        figure("mean_spectra_unseen.png", "mean spectra, DCGAN test set"),
        figure("diagonal_profile.png", "spectrum along the diagonal"),
        "Each up-sampling family's twins of the test photos: the same content, so the mean difference spectrum "
        "shows where that decoder acts; beside it each detector's mean saliency on the same set.",
        *[figure(f"twin_pairs_{family}.png", set_title(s)) for s, family in TWIN_SETS.items()],
        "## Generators",
        "Every detector on every test generator, as Wang et al. 2020 report it: the test photos against one "
        "generator's fakes (the twins of those photos, for an auto-encoder family). `(seen)` marks the "
        "generators the detectors trained on; the unseen mean averages the others. Each cell is the mean ± "
        "standard deviation over seeds.",
        figure("generator_roc_auc.png", "ROC AUC per detector and test generator"),
        *[
            part
            for key, title in GENERATOR_METRICS
            for part in (sentence_start(title) + ":", metrics_table(detectors, key, by_generator, unseen))
        ],
        "Accuracy on the reals and on the fakes apart shows a threshold that does not transfer: a detector that "
        "ranks a generator's fakes well (ROC AUC, oracle accuracy) may still call nearly all of them real at the "
        "threshold chosen on the val split.",
        "## Detectors",
        f"Every Keras detector is trained once per seed of `train.seeds` ({params.train.seeds}); the baselines "
        f"{', '.join(f'`{name}`' for name in SEEDLESS if name in params.train.models)} are deterministic fits, "
        "one each. Perturbed sets re-encode, blur, rescale or add noise to every image of the ProGAN test "
        "set, both classes, before the transform. Each cell is the mean ± standard deviation over seeds.",
        "ROC AUC:",
        metrics_table(detectors, "roc_auc", ["test", *perturbed]),
        "Accuracy at each seed's threshold, chosen on the val split (the highest balanced accuracy):",
        metrics_table(detectors, "accuracy_at_val_threshold", ["test", *perturbed]),
        "Accuracy at threshold 0.5:",
        metrics_table(detectors, "accuracy", ["test", *perturbed]),
        figure("seed_roc_auc.png", "ROC AUC of every seed on every test set"),
        "Every seed's ROC AUC (dots), their mean (bar) and the seed ensemble's (star): how far apart training runs "
        "of one detector land is what the comparisons below must count.",
        "The seed ensemble, what `gandct predict` and `load_detector` score with (the sigmoid of the seeds' mean "
        "logit). ROC AUC:",
        ensemble_table(detectors, "roc_auc", by_generator + perturbed),
        "Accuracy of the seed ensemble at its own val threshold:",
        ensemble_table(detectors, "accuracy_at_val_threshold", by_generator + perturbed),
        "## Comparisons",
        "Differences of the seed-mean metric, a - b, with their 95% interval from a two-level bootstrap "
        f"({detail['bootstrap']['resamples']} resamples): each resample draws every detector's training seeds "
        "with replacement and the test images with replacement (the same images for both detectors), so the "
        "interval counts what a re-run changes, the training as well as the test images; for the unseen mean "
        "the seeds are drawn once and each generator's images on their own. Accuracy is each "
        'seed\'s at its own val threshold. "better" means the whole interval is above 0, "worse" below 0, '
        'otherwise "no clear difference". The interval does not count what only a re-run with another `seed` '
        "draws anew (the few photographs of the test split, the generators' own training), so a verdict stands "
        "only when a replicate run gives it too: see docs/replication.md.",
        "By test generator:",
        intervals_table(comparisons, by_generator),
        "Under perturbations of the ProGAN test set:",
        intervals_table(comparisons, perturbed),
        figure("roc_test.png", "ROC curves, ProGAN test set"),
        "Training curves of each detector's seed with the lowest val loss:",
        figure("training_curves.png", "training curves, best seed"),
        "## Where the detectors look",
        "Share of saliency mass (|d logit / d input|, tf-keras-vis) in the high-frequency quadrant: vanilla "
        f"gradients over the whole ProGAN test set (and per class), SmoothGrad over {params.report.smoothgrad_images} "
        "of its images; a uniform map gives 0.25.",
        saliency_table(shares),
        figure("saliency/mean.png", "mean saliency"),
        *[figure(f"saliency/{name}.png", f"saliency examples, {name}") for name in shares],
        "Against where the classes differ, on the ProGAN test set and on each family's twins (each test photo "
        "against its twin, whose only systematic difference is the decoder's up-sampling): the Spearman rank "
        "correlation of each detector's mean saliency map (per-image maps normalised, then averaged) with the mean "
        "absolute log-spectrum difference |fake - real| (for twins, the mean over pairs of twin minus photo), with "
        f"its 95% bootstrap interval ({params.evaluate.bootstrap_resamples} resamples of the images within each "
        "class); the mass-weighted mean diagonal frequency (0 at DC, 1 at the bottom-right corner) of the saliency "
        "and of |fake - real|; and the saliency share on the isolated peaks and troughs of the signed difference "
        "(found in the data: local extremes standing out from their surroundings by 5 MADs) against a uniform "
        "map's share of those positions.",
        look_table(looks),
        *[figure(f"saliency/bands_{split}.png", f"saliency per frequency band, {split}") for split in looks],
        *[figure(f"saliency/peaks_{split}.png", f"class difference and its peaks, {split}") for split in looks],
        "## Reading",
        reading(detail, shares, looks),
        "Once the content is the same (the twins), where each decoder acts and whether the detectors look there:",
        "\n".join(f"- {twin_look_sentence(s, by_model)}" for s, by_model in twin_looks.items()),
    ]
    write_text(paths.REPORTS / "report.md", "\n\n".join(sections) + "\n")


def generator_heatmap(detectors: dict[str, dict], unseen: list[str], path: Path) -> None:
    """The seed-mean ROC AUC of every detector on every test generator and the unseen mean, as a heat map."""
    sets = generator_sets(detectors)
    values = np.array([[r["sets"][s]["seeds"]["roc_auc"]["mean"] for s in sets] for r in detectors.values()])
    figures.plot_generator_heatmap(values, list(detectors), [column_title(s, unseen) for s in sets], path)


def main(argv: list[str] | None = None) -> None:
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
    roc = {}
    for name in params.train.models:
        points = read_csv(paths.EVALUATION / "roc" / f"{name}.csv")
        fpr, tpr = (np.array([float(p[k]) for p in points]) for k in ("fpr", "tpr"))
        roc[name] = (fpr, tpr, detail["detectors"][name]["sets"]["test"]["ensemble"]["roc_auc"])
    figures.plot_roc_curves(roc, FIGURES / "roc_test.png", "ProGAN test set, seed ensembles")
    seed_spread_figure(detail["detectors"], "roc_auc", FIGURES / "seed_roc_auc.png")
    generator_heatmap(detail["detectors"], detail.get("unseen_sets", []), FIGURES / "generator_roc_auc.png")
    shares, looks, set_means = saliency_report(params)
    for test_set, family in TWIN_SETS.items():
        examples = twin_spectra.paired_examples(test_set, params.report.examples_per_class, params.seed)
        figures.plot_twin_pairs(*examples, set_means[test_set], family, FIGURES / f"twin_pairs_{family}.png")
    measures = {
        name: share | {"frequency": {split: looks[split][name] for split in looks}} for name, share in shares.items()
    }
    write_text(paths.REPORTS / "saliency.json", json.dumps(measures, indent=2) + "\n")
    quality = json.loads(paths.GAN_QUALITY.read_text()) if paths.GAN_QUALITY.is_file() else None
    write_report(params, detail, shares, looks, counts, quality)
    log.info("wrote %s and %s", paths.REPORTS / "report.md", Path(FIGURES))


if __name__ == "__main__":
    run_command("report", main)
