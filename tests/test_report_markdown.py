"""The report's Markdown from plain numbers written by hand: tables, sentences and verdicts."""

from __future__ import annotations

import pytest

from gandct import paths, report_markdown
from gandct.comparison import BootstrapInterval
from gandct.report_markdown import (
    SECTIONS,
    RunSettings,
    anchor,
    corner_verdict,
    difference_sentence,
    ensemble_table,
    metrics_table,
    render_report,
    saliency_table,
    twin_look_sentence,
)


def seed_summary(mean: float | None, std: float | None) -> dict:
    """One metric over seeds, as `comparison.summarise_seeds` writes it."""
    return {"mean": mean, "std": std, "seeds": {}}


def test_a_metrics_cell_is_the_seed_mean_and_std_and_a_seen_generator_is_marked():
    detectors = {
        "paper": {
            "seeds": [0, 1, 2],
            "sets": {
                "test": {"seeds": {"roc_auc": seed_summary(0.98123, 0.0042)}},
                "test_dcgan": {"seeds": {"roc_auc": seed_summary(None, None)}},
            },
        },
        "linear": {
            "seeds": [0],
            "sets": {
                "test": {"seeds": {"roc_auc": seed_summary(0.9, None)}},
                "test_dcgan": {"seeds": {"roc_auc": seed_summary(0.61, None)}},
            },
        },
    }
    assert metrics_table(detectors, "roc_auc", ["test", "test_dcgan"], unseen=["test_dcgan"]).splitlines() == [
        "| model (seeds) | ProGAN (seen) | DCGAN |",
        "|---|---|---|",
        "| paper (3) | 0.981 ± 0.004 | n/a |",
        "| linear (1) | 0.900 | 0.610 |",
    ]


def test_the_ensemble_table_gives_each_seed_ensembles_own_number():
    detectors = {
        "paper": {
            "seeds": [0, 1],
            "sets": {"test": {"ensemble": {"roc_auc": 0.9876}}, "jpeg_75": {"ensemble": {"roc_auc": None}}},
        }
    }
    assert ensemble_table(detectors, "roc_auc", ["test", "jpeg_75"]).splitlines()[2] == "| paper (2) | 0.988 | n/a |"


def test_the_saliency_table_and_the_corner_verdict_read_the_same_shares():
    shares = {
        "paper": {"vanilla": 0.3141, "vanilla_real": 0.2, "vanilla_fake": 0.42, "smoothgrad": 0.3, "uniform": 0.25},
        "linear": {"vanilla": 0.2, "vanilla_real": 0.2, "vanilla_fake": 0.2, "smoothgrad": 0.2, "uniform": 0.25},
    }
    assert saliency_table(shares).splitlines()[2:] == [
        "| paper | 0.314 | 0.200 | 0.420 | 0.300 |",
        "| linear | 0.200 | 0.200 | 0.200 | 0.200 |",
    ]
    assert corner_verdict(shares) == (
        "Do the detectors look at the high-frequency corner? no: share of saliency there `paper` 31%, "
        "`linear` 20%, uniform 25%."
    )
    del shares["linear"]
    assert corner_verdict(shares).startswith("Do the detectors look at the high-frequency corner? yes:")
    assert corner_verdict({}) == "High-frequency corner: no saliency measured."


def test_the_difference_sentence_names_the_band_that_stands_out_most_per_coefficient():
    look = {
        "largest_differences": [{"row": 31, "column": 31, "difference": 0.8, "t": 1.0}],
        "band_centres": [0.25, 0.75],
        # the second band holds less of the difference but far fewer coefficients: per coefficient it leads
        "difference_profile": [0.6, 0.4],
        "uniform_profile": [0.9, 0.1],
        "high_quadrant_difference": -0.12,
        "peaks": {"peaks": 3},
    }
    sentence = difference_sentence("test_dcgan", look)
    assert sentence.startswith(
        "DCGAN: the mean log-spectra of fakes and reals differ most at (row, column) (31, 31) +0.80"
    )
    assert "4.0 times the average, in the band around diagonal frequency 0.75" in sentence
    assert "the fakes carry less energy than the reals (mean log ratio -0.12)" in sentence
    assert sentence.endswith("the difference map has 3 isolated peaks and troughs.")


def test_the_twin_sentence_says_where_the_decoder_acts_and_who_follows_it():
    def look(rho: float | None, interval: list[float] | None) -> dict:
        return {
            "spearman": rho,
            "spearman_interval": interval,
            "difference_mean_frequency": 0.71,
            "uniform_mean_frequency": 0.5,
        }

    by_model = {
        "paper": look(0.4, [0.3, 0.5]),
        "custom": look(-0.2, [-0.3, -0.1]),
        "linear": look(0.05, [-0.1, 0.2]),
        "durall": look(None, None),
    }
    assert twin_look_sentence("test_autogan_nearest", by_model) == (
        "Nearest twins: the decoder's difference centres at diagonal frequency 0.71 (inside the high-frequency "
        "half, uniform 0.50); saliency `paper` follows it (+0.40 [+0.30, +0.50]), `custom` looks away from it "
        "(-0.20 [-0.30, -0.10]), `linear` is unrelated to it (+0.05 [-0.10, +0.20]), `durall` not measurable."
    )


def detail_of_one_detector() -> dict:
    """detail.json of one detector scored on every generator and on jpeg_75, with no compared pair."""
    metrics = [key for key, _ in report_markdown.GENERATOR_METRICS] + ["accuracy"]
    sets = {
        test_set: {
            "seeds": {metric: seed_summary(0.9, 0.01) for metric in metrics},
            "ensemble": dict.fromkeys(metrics, 0.91),
        }
        for test_set in (*paths.TEST_SETS, paths.UNSEEN_MEAN, "jpeg_75")
    }
    unseen = [test_set for test_set in paths.TEST_SETS if test_set != "test"]
    return {
        "bootstrap": {"resamples": 100},
        "unseen_sets": unseen,
        "detectors": {"paper": {"seeds": [0, 1], "sets": sets}},
        "comparisons": {},
        "reals_flagged_by_format": flagged_by_format(),
    }


def flagged_by_format() -> dict:
    """detail.json's reals_flagged_by_format for one detector, two JPEG-born photos and one PNG-born, clean and
    at JPEG 90."""
    return {
        "photos": {"jpeg": ["china", "flower"], "png": ["brick"]},
        "images": {"jpeg": 128, "png": 64},
        "sets": ["test", "jpeg_90"],
        "detectors": {
            "paper": {
                "test": {
                    "jpeg": seed_summary(0.25, 0.05) | {"ensemble": 0.2},
                    "png": seed_summary(0.03, 0.01) | {"ensemble": 0.0},
                },
                "jpeg_90": {
                    "jpeg": seed_summary(0.2, 0.05) | {"ensemble": 0.1},
                    "png": seed_summary(0.04, 0.01) | {"ensemble": 0.0},
                },
                "photos": {"brick": 0.0, "china": 0.3, "flower": 0.1},
            }
        },
    }


def test_the_format_table_puts_jpeg_born_beside_png_born_photos_clean_and_encoded():
    lines = report_markdown.format_table(flagged_by_format()).splitlines()
    assert lines[0] == (
        "| detector | clean: JPEG-born (2 photos) | clean: PNG-born (1 photos) | jpeg_90: JPEG-born (2 photos) "
        "| jpeg_90: PNG-born (1 photos) |"
    )
    assert (
        lines[2]
        == "| paper | 0.250 ± 0.050 [0.200] | 0.030 ± 0.010 [0.000] | 0.200 ± 0.050 [0.100] | 0.040 ± 0.010 [0.000] |"
    )


@pytest.mark.parametrize("first_look", [False, True])
def test_the_report_has_every_section_in_order_each_linked_from_the_opening(first_look):
    settings = RunSettings(
        source="sample",
        seed=7,
        image_size=64,
        color="gray",
        train_fakes=["progan"],
        train_seeds=[0, 1],
        seedless_models=["linear"],
        smoothgrad_images=32,
        bootstrap_resamples=100,
        first_look=first_look,
    )
    text = render_report(settings, detail_of_one_detector(), {}, {}, {"real": 10, "progan": 10}, attribution_detail())
    headings = [line.removeprefix("## ") for line in text.splitlines() if line.startswith("## ")]
    assert headings == list(SECTIONS)
    opening = text.split("\n## ")[0]
    assert all(f"[{heading}]({anchor(heading)})" in opening for heading in SECTIONS)
    assert ("**First look (`make quick`):**" in opening) == first_look
    assert "Data source `sample`, seed 7, DCT of 64px gray images, detectors trained on the fakes of progan." in text
    assert "Test images per kind: real 10, progan 10." in text
    assert "| paper (2) | 0.900 ± 0.010 | 0.900 ± 0.010 |" in opening  # the summary: unseen mean and jpeg_75
    assert "`custom` beats `paper`: not asked" in opening
    assert "No compared pair of detectors was trained." in text


def test_the_summary_verdicts_follow_the_intervals_and_the_fakes_line_the_quality_file():
    better, level = interval("roc_auc", 0.1, 0.04, 0.16), interval("roc_auc", 0.01, -0.01, 0.03)
    worse = interval("roc_auc", -0.02, -0.03, -0.01)
    sets = {"unseen_mean": {"roc_auc": better}, "jpeg_75": {"roc_auc": better}, "noise_5": {"roc_auc": level}}
    assert (
        "holds in this run (unseen mean better; jpeg_75 better; worse on no test set)"
        in report_markdown.claim_verdict({"custom - paper": sets})
    )
    sets["noise_5"] = {"roc_auc": worse}
    assert "does not hold in this run" in report_markdown.claim_verdict({"custom - paper": sets})
    quality = {
        "images_per_set": 10,
        "floor": {"swd_avg": 1.0},
        "progan": {"ratio_to_floor": 3.391},
        "test_reals": {"ratio_to_floor": 5.268},
    }
    assert report_markdown.quality_line(quality).endswith("progan 3.39x (the test photographs 5.27x).")


def a_look(rho: float, low: float, high: float, ratio: float) -> dict:
    """Frequency measures of one detector on one set, as `frequency_measures.where_it_looks` writes them."""
    return {
        "spearman": rho,
        "spearman_interval": [low, high],
        "saliency_mean_frequency": 0.45,
        "uniform_mean_frequency": 0.5,
        "difference_mean_frequency": 0.55,
        "peaks": {"peaks": 6, "share": 0.1 * ratio / 100, "uniform": 0.001, "ratio": ratio},
    }


@pytest.mark.parametrize(
    ("look", "words"),
    [
        (a_look(0.09, 0.07, 0.10, 1.05), "its saliency follows the class difference weakly (Spearman rho +0.09"),
        (a_look(0.62, 0.55, 0.70, 3.0), "its saliency follows the class difference strongly (Spearman rho"),
        (a_look(-0.35, -0.40, -0.30, 0.5), "its saliency runs against the class difference moderately (Spearman"),
        (a_look(0.20, -0.01, 0.40, 1.0), "not clearly related to where the classes differ (Spearman rho +0.20"),
    ],
)
def test_the_saliency_sentence_follows_the_numbers(look, words):
    sentence = report_markdown.look_sentence("test", "paper", look)
    assert sentence.startswith("ProGAN, `paper`: ") and words in sentence
    assert not ("follows" in sentence and "against" in sentence)  # one direction, never both
    assert "lower than a uniform map's 0.50" in sentence
    chance = {1.05: "about chance", 3.0: "above chance", 0.5: "below chance", 1.0: "about chance"}
    assert chance[look["peaks"]["ratio"]] in sentence


def interval(metric: str, difference: float, low: float, high: float) -> dict:
    return {
        "metric": metric,
        "difference": difference,
        "low": low,
        "high": high,
        "level": 0.95,
        "resamples": 2000,
        "seeds": [8, 8],
    }


def test_the_reading_words_follow_the_intervals_alone():
    """A larger difference whose interval holds 0 is no clear difference; a small one above 0 is better."""
    comparisons = {
        "custom - paper": {
            "test": {"accuracy": interval("accuracy", 0.004, 0.001, 0.007), "roc_auc": interval("roc_auc", 0, 0, 0)},
            "jpeg_75": {
                "accuracy": interval("accuracy", 0.05, -0.01, 0.11),
                "roc_auc": interval("roc_auc", -0.02, -0.03, -0.01),
            },
        },
        "paper - paper_pixel": {
            "test": {"accuracy": interval("accuracy", 0.2, 0.15, 0.25), "roc_auc": None},
            "jpeg_75": {"accuracy": interval("accuracy", 0.0, -0.1, 0.1), "roc_auc": None},
        },
    }
    text = report_markdown.reading({"comparisons": comparisons}, {}, {})
    assert text.splitlines() == [
        "- `custom` against `paper`, accuracy at the val threshold: ProGAN better (+0.004, 95% CI +0.001 to "
        "+0.007); jpeg_75 no clear difference (+0.050, 95% CI -0.010 to +0.110).",
        "- `custom` against `paper`, ROC AUC: ProGAN no clear difference (+0.000, 95% CI +0.000 to +0.000); "
        "jpeg_75 worse (-0.020, 95% CI -0.030 to -0.010).",
        "- `paper` against `paper_pixel`, accuracy at the val threshold: ProGAN better (+0.200, 95% CI +0.150 to "
        "+0.250); jpeg_75 no clear difference (+0.000, 95% CI -0.100 to +0.100).",
        "- `paper` against `paper_pixel`, ROC AUC: ProGAN not defined (the test set has one class); jpeg_75 not "
        "defined (the test set has one class).",
        "- The same CNN on DCT maps against pixels, clean test accuracy: better (+0.200, 95% CI +0.150 to +0.250): "
        "the frequency representation makes the task easier.",
    ]
    table = report_markdown.intervals_table(comparisons, ["test", "jpeg_75"]).splitlines()
    assert table[0] == "| difference | ProGAN | jpeg_75 |"
    assert table[2] == (
        "| custom - paper, accuracy at the val threshold | +0.004 [+0.001, +0.007] better | "
        "+0.050 [-0.010, +0.110] no clear difference |"
    )
    assert (
        table[3]
        == "| custom - paper, ROC AUC | +0.000 [+0.000, +0.000] no clear difference | -0.020 [-0.030, -0.010] worse |"
    )


def test_the_quality_table_lists_every_generators_swd_and_every_familys_psnr():
    quality = {
        "images_per_set": 10,
        "floor": {"swd_avg": 21.35},
        "test_reals": {"swd_avg": 112.47, "ratio_to_floor": 5.268},
        "progan": {"swd_avg": 72.4, "ratio_to_floor": 3.391},
        "autogan_nearest": {"psnr_median": 32.56, "psnr_p10": 26.77, "psnr_p90": 35.59, "pairs": 450},
    }
    assert report_markdown.quality_table(quality).splitlines()[2:] == [
        "| floor: train photos, other half | 21.35 | 1.00x |  |",
        "| test photos | 112.47 | 5.27x |  |",
        "| ProGAN | 72.40 | 3.39x |  |",
        "| nearest twins |  |  | 32.56 (26.77, 35.59) |",
    ]
    assert report_markdown.quality_table(None) == "No quality measured (`reports/augment/quality.json` missing)."


def attribution_detail() -> dict:
    """reports/attribution/detail.json of two attributors over three sources, with their comparison."""

    def model(mean: float, confusion: list[list[int]]) -> dict:
        per_source = {
            s: {"mean": round(row[k] / sum(row), 6)} for k, (s, row) in enumerate(zip(SOURCES, confusion, strict=True))
        }
        return {
            "seeds": {"0": {}, "1": {}},
            "accuracy": {"mean": mean, "low": mean - 0.02, "high": mean + 0.03},
            "per_source": per_source,
            "ensemble": {"accuracy": mean, "confusion": confusion},
        }

    return {
        "classes": SOURCES,
        "test_images": dict.fromkeys(SOURCES, 10),
        "models": {
            "paper": model(0.7, [[6, 0, 4], [0, 10, 0], [3, 0, 7]]),
            "custom": model(0.8, [[8, 0, 2], [0, 10, 0], [4, 0, 6]]),
        },
        "comparison": interval("accuracy", 0.1, 0.04, 0.16),
    }


SOURCES = ["real", "progan", "autogan_transposed"]


def test_the_attribution_section_gives_every_source_and_the_largest_confusions():
    text = "\n\n".join(report_markdown.attribution_section(attribution_detail()))
    assert "chance is 0.333. Test images per source: real 10, progan 10, transposed 10." in text
    assert "| model (seeds) | accuracy, 95% CI | real | progan | transposed |" in text
    assert "| paper (2) | 0.700 [0.680, 0.730] | 0.600 | 1.000 | 0.700 |" in text
    assert "`custom - paper`, accuracy: better (+0.100, 95% CI +0.040 to +0.160)." in text
    assert "seed ensemble (custom): transposed named real (4 of 10), real named transposed (2 of 10)." in text
    assert "![confusion matrices" in text and "figures/attribution_confusion.png" in text


def test_the_split_table_names_every_photo_and_counts_the_images():
    splits = {
        "train": {
            "photos": ["astronaut", "brick"],
            "strata": {"scene": 1, "texture": 1},
            "formats": {"png": 2},
            "real": 300,
            "fakes": {"progan": 300},
        },
        "test": {
            "photos": ["flower"],
            "strata": {"scene": 1},
            "formats": {"jpeg": 1},
            "real": 150,
            "fakes": {"progan": 150, "dcgan": 150},
        },
    }
    lines = report_markdown.split_table(splits).splitlines()
    assert lines[0] == "| split | photographs | of them | first stored as | real images | fake images |"
    assert lines[2] == "| train | 2: astronaut, brick | 1 scene, 1 texture | 2 PNG | 300 | 300 progan |"
    assert lines[3] == "| test | 1: flower | 1 scene | 1 JPEG | 150 | 150 progan, 150 dcgan |"
    section = "\n".join(report_markdown.data_section({"real": 150}, None, splits))
    assert report_markdown.split_table(splits) in section
    assert "| split |" not in "\n".join(report_markdown.data_section({"real": 150}, None))  # no splits: no table


def test_an_interval_cell_shows_the_interval_without_the_photo_level_beside_it():
    found = BootstrapInterval("roc_auc", 0.06, 0.01, 0.11, 0.95, 100, (2, 2), (0.04, 0.08)).to_dict()
    assert report_markdown.interval_cell(found) == "+0.060 [+0.010, +0.110] better (images only [+0.040, +0.080])"
    plain = BootstrapInterval("roc_auc", 0.06, -0.01, 0.11, 0.95, 100, (2, 2)).to_dict()
    assert report_markdown.interval_cell(plain) == "+0.060 [-0.010, +0.110] no clear difference"
