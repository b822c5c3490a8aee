"""evaluate, report and predict on a small trained project: real images, the features stage, two
detectors trained for a few epochs, then the three result commands."""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

import keras
import numpy as np
import pytest
import yaml
from helpers import REPO, gan_like, photo_like
from sklearn import metrics

import gandct
from gandct import paths, report_markdown
from gandct.commands import predict
from gandct.comparison import paired_bootstrap_sets, photo_indices
from gandct.detector import Detector
from gandct.errors import GandctError
from gandct.fileio import read_csv
from gandct.images import ImageError, load_rgb, save_png
from gandct.params import load_params
from gandct.saliency import high_frequency_share, quadrant_shares
from gandct.stages import evaluate, evaluate_attribution, features, report, saliency, train, train_attribution

COLUMNS = ["path", "label", "split", "group", "generator", "sha256"]
COUNTS = {"train": 40, "val": 12, "test": 12}
MODELS = ["paper", "linear"]
SEEDS = [0, 1]
SCORED_SETS = [*paths.TEST_SETS, "jpeg_75", "noise_5"]  # the sets whose images are scored
SETS = [*SCORED_SETS, "unseen_mean", "third_party_mean"]  # and the means over the unseen and third-party generators
UNSEEN = [s for s in paths.TEST_SETS if s != "test" and s not in paths.THIRD_PARTY_SETS]  # train.fakes: [progan]
MEAN_SETS = {"unseen_mean": UNSEEN, "third_party_mean": list(paths.THIRD_PARTY_SETS)}


def write_listing(path: Path, rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*COLUMNS, *(column for column in rows[0] if column not in COLUMNS)])
        writer.writeheader()
        writer.writerows([{**row, "sha256": ""} for row in rows])


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory):
    """Images, listings, features and two trained detectors, built once; yields the project folder."""
    root = tmp_path_factory.mktemp("results")
    rng = np.random.default_rng(1)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["features"].update(image_size=32, workers=1)
    params["train"]["models"] = MODELS
    params["train"]["seeds"] = SEEDS
    params["train"]["paper"].update(epochs=20, batch_size=16, patience=6)
    params["evaluate"]["perturbations"] = {"jpeg": [75], "noise": [5.0]}
    params["evaluate"]["bootstrap_resamples"] = 200
    params["report"].update(saliency_models=["paper", "linear"], examples_per_class=2, smoothgrad_images=8)
    params["report"]["smooth_samples"] = 4
    params["attribute"]["models"] = ["linear"]  # the report's attribution section, at the cost of one fit
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    manifest, generated = [], []
    for split, count in COUNTS.items():
        for index in range(count):
            real, fake = f"raw/real/{split}_{index}.png", f"generated/progan/{split}/{index}.png"
            for path, image in ((real, photo_like(rng, 32)), (fake, gan_like(rng, 32))):
                (root / path).parent.mkdir(parents=True, exist_ok=True)
                save_png(root / path, image)
            manifest.append(
                {"path": real, "label": "real", "split": split, "group": real, "generator": ""}
                | {"stratum": "scene", "format": "jpeg" if index % 2 else "png"}  # as if half were JPEG-born
            )
            generated.append({"path": fake, "label": "fake", "split": split, "group": fake, "generator": "progan"})
            # The real's stem, as the autogan and third_party stages name its twin (third-party: test only).
            twins = paths.AUTOGAN_GENERATORS + (paths.THIRD_PARTY_GENERATORS if split == "test" else ())
            for family in twins:
                twin = f"generated/{family}/{split}/{split}_{index}.png"
                (root / twin).parent.mkdir(parents=True, exist_ok=True)
                save_png(root / twin, gan_like(rng, 32))
                generated.append({"path": twin, "label": "fake", "split": split, "group": real, "generator": family})
    for split, count in COUNTS.items():  # every split: the attribution sets learn the DCGAN's fakes too
        for index in range(count):
            fake = f"generated/dcgan/{split}/{index}.png"
            (root / fake).parent.mkdir(parents=True, exist_ok=True)
            save_png(root / fake, gan_like(rng, 32))
            generated.append({"path": fake, "label": "fake", "split": split, "group": fake, "generator": "dcgan"})
    write_listing(root / "data/interim/manifest.csv", manifest)
    for generator in (*paths.GENERATORS, *paths.THIRD_PARTY_GENERATORS):
        write_listing(root / paths.generated_listing(generator), [r for r in generated if r["generator"] == generator])

    previous = Path.cwd()
    os.chdir(root)
    try:
        for split in paths.FEATURE_SPLITS:
            features.main([split])
        loaded = load_params()
        for name in MODELS:
            train.train_detector(name, loaded)
        train_attribution.train_attributor("linear", loaded)
        evaluate.main([])
        evaluate_attribution.main([])
        saliency.main([])
        report.main([])
        yield root
    finally:
        os.chdir(previous)


@pytest.fixture
def inside(project, monkeypatch):
    monkeypatch.chdir(project)
    return project


def test_the_test_photos_flagged_are_counted_by_their_first_encoding(inside):
    flagged = json.loads(paths.EVALUATION_DETAIL.read_text())["reals_flagged_by_format"]
    scores = read_csv(paths.EVALUATION_SCORES / "test.csv")
    reals = [row for row in scores if row["label"] == "0"]
    jpeg = [row for row in reals if int(row["id"].rsplit("_", 1)[1].split(".")[0]) % 2]
    assert flagged["images"] == {"jpeg": len(jpeg), "png": len(reals) - len(jpeg)}
    assert len(flagged["photos"]["jpeg"]) == len(jpeg)  # each real here is its own photo
    assert flagged["sets"] == ["test", "jpeg_75"]  # the clean set and its JPEG-encoded copies
    detail = json.loads(paths.EVALUATION_DETAIL.read_text())
    for name in MODELS:
        threshold = detail["detectors"][name]["ensemble_val_threshold"]
        expected = np.mean([float(row[f"{name}_ensemble"]) >= threshold for row in jpeg])
        assert flagged["detectors"][name]["test"]["jpeg"]["ensemble"] == pytest.approx(expected, abs=1e-6)
        per_seed = flagged["detectors"][name]["jpeg_75"]["png"]["seeds"]  # the PNG-born reals, JPEG-encoded
        assert len(per_seed) == len(detail["detectors"][name]["seeds"])


def test_metrics_cover_every_model_seed_and_test_set(inside):
    detail = json.loads(paths.EVALUATION_DETAIL.read_text())
    assert set(detail["detectors"]) == set(MODELS)
    test_labels = np.load(paths.features_file("test", "y.npy")).astype(int)
    for name, result in detail["detectors"].items():
        seeds = SEEDS[:1] if name == "linear" else SEEDS
        assert result["seeds"] == seeds and list(result["sets"]) == SETS
        for test_set, figures in result["sets"].items():
            assert figures["images"] == 2 * COUNTS["test"] * len(MEAN_SETS.get(test_set, [test_set]))
            summary = figures["seeds"]
            for metric in (
                "accuracy",
                "accuracy_at_val_threshold",
                "balanced_accuracy",
                "roc_auc",
                "average_precision",
            ):
                values = [summary[metric]["seeds"][str(seed)] for seed in seeds]
                assert summary[metric]["mean"] == pytest.approx(np.mean(values), abs=1e-6), (name, test_set, metric)
                assert (summary[metric]["std"] is None) == (len(seeds) == 1)
        # Each seed's accuracy at its threshold is that of its own model's scores, recomputed here.
        for seed in seeds:
            detector = Detector.load(paths.seed_model(name, seed))
            p_fake = detector.predict_framed(np.load(paths.features_file("test", "pixels.npy")))
            expected = np.mean((p_fake >= detector.threshold) == test_labels)
            got = result["sets"]["test"]["seeds"]["accuracy_at_val_threshold"]["seeds"][str(seed)]
            assert got == pytest.approx(expected, abs=1e-6)
    assert detail["detectors"]["paper"]["sets"]["test"]["seeds"]["accuracy"]["mean"] >= 0.9  # the checkerboard
    intervals = detail["comparisons"]["paper - linear"]
    assert list(intervals) == SETS
    for by_metric in intervals.values():
        for metric, interval in by_metric.items():
            assert interval["metric"] == metric and interval["resamples"] == 200
            assert interval["low"] <= interval["difference"] <= interval["high"]
            assert interval["seeds"] == [len(SEEDS), 1]  # paper's seeds were resampled, linear's one fit
    roc = read_csv(inside / "reports/evaluate/roc/paper.csv")
    assert float(roc[0]["fpr"]) == 0 and float(roc[-1]["tpr"]) == 1
    predictions = read_csv(inside / "reports/evaluate/predictions/linear.csv")
    assert len(predictions) == 2 * COUNTS["test"]


def test_the_published_scores_recompute_every_figure_and_interval(inside):
    """reports/evaluate/scores/<set>.csv: every seed's and ensemble's p_fake per image, enough to recompute the
    seed metrics, the ensemble's and the comparison intervals without Keras."""
    detail = json.loads(paths.EVALUATION_DETAIL.read_text())
    test_ids = read_csv(inside / paths.features_file("test", "ids.csv"))
    for test_set in SCORED_SETS:
        rows = read_csv(inside / paths.EVALUATION_SCORES / f"{test_set}.csv")
        split = test_set if test_set in paths.TEST_SETS else "test"
        assert [row["id"] for row in rows] == [row["path"] for row in read_csv(paths.features_file(split, "ids.csv"))]
        labels = np.array([int(row["label"]) for row in rows])
        column = {key: np.array([float(row[key]) for row in rows]) for key in rows[0] if key.startswith(tuple(MODELS))}
        for name in MODELS:
            figures = detail["detectors"][name]["sets"][test_set]
            for seed, auc in figures["seeds"]["roc_auc"]["seeds"].items():
                assert metrics.roc_auc_score(labels, column[f"{name}_seed_{seed}"]) == pytest.approx(auc, abs=1e-6)
            assert metrics.roc_auc_score(labels, column[f"{name}_ensemble"]) == pytest.approx(
                figures["ensemble"]["roc_auc"], abs=1e-6
            )
        paper = np.stack([column[f"paper_seed_{seed}"] for seed in SEEDS])
        again = paired_bootstrap_sets(
            [(labels, paper, column["linear_seed_0"])],
            "roc_auc",
            seed=load_params().seed,
            resamples=200,
            photos=[photo_indices(rows)],
        )
        assert again.to_dict() == detail["comparisons"]["paper - linear"][test_set]["roc_auc"]
    assert len(test_ids) == 2 * COUNTS["test"]


def test_users_score_with_the_seed_ensemble(inside):
    detail = json.loads(paths.EVALUATION_DETAIL.read_text())
    ensemble = Detector.load(paths.detector_model("paper"))
    framed, labels = np.load(paths.features_file("test", "pixels.npy")), np.load(paths.features_file("test", "y.npy"))
    logits = [seed_logits(Detector.load(paths.seed_model("paper", seed)), framed) for seed in SEEDS]
    np.testing.assert_allclose(seed_logits(ensemble, framed), np.mean(logits, axis=0), rtol=1e-5, atol=1e-5)
    p_fake = ensemble.predict_framed(framed)
    figures = detail["detectors"]["paper"]["sets"]["test"]["ensemble"]
    assert figures["roc_auc"] == pytest.approx(metrics.roc_auc_score(labels, p_fake), abs=1e-6)
    at_threshold = np.mean((p_fake >= ensemble.threshold) == labels)
    assert figures["accuracy_at_val_threshold"] == pytest.approx(at_threshold, abs=1e-6)
    assert detail["detectors"]["paper"]["ensemble_val_threshold"] == ensemble.threshold


def seed_logits(detector: Detector, framed: np.ndarray) -> np.ndarray:
    """The logit a detector's sigmoid reads (the input of its p_fake layer), for framed images."""
    model = detector.model
    return keras.Model(model.input, model.get_layer("p_fake").input)(detector.inputs(framed)).numpy()[:, 0]


def test_the_dvc_metrics_are_the_headline_numbers_only(inside):
    headline = json.loads(paths.METRICS.read_text())
    detail = json.loads(paths.EVALUATION_DETAIL.read_text())
    assert set(headline) == set(MODELS)  # no custom - paper interval: custom is not trained here
    for name in MODELS:
        assert headline[name] == {
            "test": {
                metric: detail["detectors"][name]["sets"]["test"]["seeds"][metric]["mean"]
                for metric in ("accuracy", "roc_auc")
            },
            **{
                test_set: {"roc_auc": detail["detectors"][name]["sets"][test_set]["seeds"]["roc_auc"]["mean"]}
                for test_set in ("unseen_mean", "third_party_mean", "jpeg_75")
            },
        }


def test_perturbations_are_seeded_and_change_the_inputs(inside):
    params = load_params()
    detectors = {"paper": Detector.load(paths.detector_model("paper"))}
    first = evaluate.score_perturbed(detectors, params)
    second = evaluate.score_perturbed(detectors, params)
    np.testing.assert_array_equal(first["noise_5"]["paper"], second["noise_5"]["paper"])
    clean = detectors["paper"].predict_framed(np.load(paths.features_file("test", "pixels.npy")), 8)
    assert not np.allclose(first["jpeg_75"]["paper"], clean)


def test_evaluate_scores_the_cache_without_retracing(inside, caplog):
    before = paths.METRICS.read_bytes(), paths.EVALUATION_DETAIL.read_bytes()
    with caplog.at_level("WARNING"):
        evaluate.main([])
    assert "retracing" not in caplog.text
    assert (paths.METRICS.read_bytes(), paths.EVALUATION_DETAIL.read_bytes()) == before  # the same scores again
    # Scores do not depend on how the images are batched.
    detector = Detector.load(paths.detector_model("paper"))
    framed = np.load(paths.features_file("test", "pixels.npy"))
    np.testing.assert_allclose(detector.predict_framed(framed, 5), detector.predict_framed(framed, 64), atol=1e-6)


def test_the_reports_data_section_says_what_each_split_holds(inside):
    text = (paths.REPORTS / "report.md").read_text()
    data = text[text.index("## Data") : text.index("\n## ", text.index("## Data") + 1)]
    for split, count in COUNTS.items():  # every image its own group here: as many photographs as reals
        assert f"| {split} | {count}: " in data
    train_fakes = sum(row["label"] == "1" for row in read_csv(paths.features_file("train", "ids.csv")))
    assert f"| {COUNTS['train']} | {train_fakes} progan |" in data
    assert "dcgan" in data.split("| test |")[1]  # the test split's fakes, one count per generator


def test_report_has_every_figure_and_the_numbers_of_this_run(inside):
    figures = inside / "reports/figures"
    for name in (
        "samples",
        "mean_spectra",
        "mean_spectra_unseen",
        "diagonal_profile",
        "training_curves",
        "roc_test",
        "seed_roc_auc",
        "generator_roc_auc",
        "attribution_confusion",
        *(f"twin_pairs_{family}" for family in paths.AUTOGAN_FAMILIES),
    ):
        assert (figures / f"{name}.png").stat().st_size > 10_000, name
    for name in ("paper", "linear", "mean"):
        assert (figures / "saliency" / f"{name}.png").stat().st_size > 10_000, name
    text = (inside / "reports/report.md").read_text()
    accuracy = json.loads(paths.EVALUATION_DETAIL.read_text())["detectors"]["paper"]["sets"]["test"]["seeds"][
        "accuracy"
    ]
    assert f"| paper (2) | {accuracy['mean']:.3f} ± {accuracy['std']:.3f} |" in text
    assert "| linear (1) |" in text
    assert "| paper - linear, ROC AUC |" in text and "`paper` against `linear`, ROC AUC: ProGAN " in text
    attributed = json.loads(paths.ATTRIBUTION_DETAIL.read_text())["models"]["linear"]["accuracy"]
    row = f"| linear (1) | {attributed['mean']:.3f} [{attributed['low']:.3f}, {attributed['high']:.3f}] |"
    assert "## Source attribution" in text and row in text
    shares = json.loads((inside / "reports/saliency.json").read_text())
    assert set(shares) == {"paper", "linear"}
    for share in shares.values():
        assert 0 < share["vanilla"] < 1 and share["uniform"] == 0.25
        assert share["quadrants"]["high"] == share["vanilla"]
        assert sum(share["quadrants"].values()) == pytest.approx(1, abs=1e-3)
        assert f"{share['vanilla']:.0%} of its saliency" in text
        for look in share["frequency"].values():
            assert -1 <= look["spearman"] <= 1 and look["spearman_interval"][0] <= look["spearman_interval"][1]
            for profile in ("saliency_profile", "difference_profile", "uniform_profile"):
                assert sum(look[profile]) == pytest.approx(1, abs=1e-3) and len(look[profile]) == 16
    for name in shares:
        assert set(shares[name]["frequency"]) == {"test", *(f"test_{gan}" for gan in paths.AUTOGAN_GENERATORS)}
        assert f"ProGAN, `{name}`: " in text and f"Pixel_shuffle twins, `{name}`: " in text
    for family in paths.AUTOGAN_FAMILIES:  # one reading line per family: where its decoder acts, who looks there
        assert re.search(rf"^- {family.capitalize()} twins: the decoder's difference centres at", text, re.MULTILINE)
    assert "|---|---|---|---|---|\n| paper |" in text  # table rows stay together
    for link in [line for line in text.splitlines() if line.startswith("![")]:
        assert (inside / "reports" / link.split("(")[1].rstrip(")")).is_file(), link


def table_cells(text: str, header_start: str) -> dict[str, dict[str, str]]:
    """{row name: {column: cell}} of the first Markdown table whose header starts with `header_start`."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    columns = [cell.strip() for cell in lines[start].strip("|").split("|")]
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0]] = dict(zip(columns[1:], cells[1:], strict=True))
    return rows


def test_the_report_opens_with_its_answer_in_the_tables_own_numbers(inside):
    text = (inside / "reports/report.md").read_text()
    opening = text.split("\n## ")[0]
    assert opening.startswith("# gandct report\n\n**Question.**") and len(opening.splitlines()) <= 16
    summary = table_cells(opening, "| ROC AUC |")
    by_generator = table_cells(text.split("\n## Generators\n")[1].split("ROC AUC:\n\n", 1)[1], "| model (seeds) |")
    perturbed = table_cells(text.split("\n## Detectors\n")[1].split("ROC AUC:\n\n", 1)[1], "| model (seeds) |")
    assert set(summary) == set(by_generator) == set(perturbed) == {"paper (2)", "linear (1)"}
    for row, cells in summary.items():
        assert set(cells) == {"unseen mean", "third-party mean", "jpeg_75"}
        for mean in ("unseen mean", "third-party mean"):
            assert cells[mean] == by_generator[row][mean], (row, cells, by_generator[row])
        assert cells["jpeg_75"] == perturbed[row]["jpeg_75"], (row, cells, perturbed[row])
    shares = json.loads((inside / "reports/saliency.json").read_text())
    corner = "yes" if all(share["vanilla"] > 0.25 for share in shares.values()) else "no"
    assert (
        f"high-frequency corner? {corner}: share of saliency there `paper` {shares['paper']['vanilla']:.0%}" in opening
    )
    assert "`custom` beats `paper`: not asked" in opening  # custom is not trained here
    for heading in ("Data", "Comparisons", "Where the detectors look", "Reading"):
        assert f"[{heading}]({report_markdown.anchor(heading)})" in opening and f"\n## {heading}\n" in text


def test_linear_saliency_is_its_weight_map(inside):
    """For a logistic regression the gradient of the logit is its weight vector, whatever the input."""
    from gandct.saliency import saliency_maps

    detector = Detector.load(paths.detector_model("linear"))
    model = detector.model
    maps = saliency_maps(model, detector.inputs(np.load(paths.features_file("test", "pixels.npy"))[:3]))
    weights = model.get_layer("seed_0").get_layer("logit").get_weights()[0]
    weights = np.abs(weights.reshape(32, 32, -1)).max(axis=-1)  # the saliency map's max over channels
    for one_map in maps:
        np.testing.assert_allclose(one_map, weights, rtol=1e-5)


def test_smoothgrad_noise_comes_from_the_seed(inside):
    from gandct.saliency import saliency_maps

    detector = Detector.load(paths.detector_model("paper"))
    model = detector.model
    x = detector.inputs(np.load(paths.features_file("test", "pixels.npy"))[:2])
    first, again, other = (saliency_maps(model, x, smooth_samples=3, seed=seed) for seed in (5, 5, 6))
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)  # the noise is really there, and really seeded


def test_high_frequency_share_of_constructed_maps():
    uniform = np.ones((2, 8, 8))
    corner = np.zeros((1, 8, 8))
    corner[0, 4:, 4:] = 1
    assert high_frequency_share(uniform) == pytest.approx(0.25)
    assert high_frequency_share(corner) == pytest.approx(1.0)
    assert high_frequency_share(np.concatenate([uniform[:1], corner])) == pytest.approx(0.625)
    left_column = np.zeros((1, 8, 8))
    left_column[0, :, 0] = 1  # pure vertical frequencies: half low, half high
    shares = quadrant_shares(left_column)
    assert shares == pytest.approx({"low": 0.5, "high_horizontal": 0.0, "high_vertical": 0.5, "high": 0.0})


def test_predict_matches_evaluate_and_lists_unreadable_files(inside, tmp_path, capsys):
    test_rows = read_csv(inside / paths.features_file("test", "ids.csv"))
    folder = tmp_path / "incoming"
    (folder / "nested").mkdir(parents=True)
    for index, row in enumerate(test_rows[:3]):
        (folder / "nested" / f"{index}.png").write_bytes((inside / row["path"]).read_bytes())
    (folder / "broken.png").write_bytes(b"not an image")
    out = tmp_path / "predictions.csv"
    predict.main([str(folder), "--model", str(paths.detector_model("paper")), "--out", str(out)])
    rows = read_csv(out)
    assert [Path(row["path"]).name for row in rows] == ["broken.png", "0.png", "1.png", "2.png"]
    assert rows[0]["error"] == "not a decodable image" and rows[0]["p_fake"] == ""
    model = keras.saving.load_model(paths.detector_model("paper"), safe_mode=True)
    stats = Detector.load(paths.detector_model("paper")).stats
    expected = model.predict(stats.normalize(np.load(paths.features_file("test", "dct.npy"))[:3]), verbose=0)[:, 0]
    np.testing.assert_allclose([float(row["p_fake"]) for row in rows[1:]], expected, atol=2e-6)
    threshold = Detector.load(paths.detector_model("paper")).threshold
    assert [row["label"] for row in rows[1:]] == ["fake" if p >= threshold else "real" for p in expected]
    # The Python API gives the same probabilities, from the files or from decoded images.
    files = [folder / "nested" / f"{index}.png" for index in range(3)]
    detector = gandct.load_detector(paths.detector_model("paper"))
    np.testing.assert_allclose(detector.predict(files), expected, atol=2e-6)
    np.testing.assert_allclose(detector.predict([load_rgb(file) for file in files]), expected, atol=2e-6)
    with pytest.raises(ImageError, match=r"broken\.png: not a decodable image"):
        detector.predict([folder / "broken.png"])


def test_an_auc_from_predicts_csv_is_the_one_evaluate_reports(inside, tmp_path):
    test_rows = read_csv(inside / paths.features_file("test", "ids.csv"))
    out = tmp_path / "scores.csv"
    predict.main(
        [
            *(str(inside / row["path"]) for row in test_rows),
            "--model",
            str(paths.detector_model("paper")),
            "--out",
            str(out),
        ]
    )
    rows = read_csv(out)
    labels = [int(row["label"]) for row in test_rows]
    reported = json.loads(paths.EVALUATION_DETAIL.read_text())["detectors"]["paper"]["sets"]["test"]["ensemble"]
    assert metrics.roc_auc_score(labels, [float(row["p_fake"]) for row in rows]) == pytest.approx(
        reported["roc_auc"], abs=1e-6
    )
    assert metrics.roc_auc_score(labels, [float(row["logit"]) for row in rows]) == pytest.approx(
        reported["roc_auc"], abs=1e-6
    )


def test_scores_far_below_one_in_a_million_keep_their_order_through_predicts_csv(inside, tmp_path):
    """A model whose logits all lie near -40 (p_fake about 1e-18): six decimals would print every score as 0."""
    model = keras.saving.load_model(paths.seed_model("paper", 0), safe_mode=True)
    kernel, bias = model.get_layer("logit").get_weights()
    model.get_layer("logit").set_weights([kernel, bias - 40])
    sure = tmp_path / "paper.keras"
    model.save(sure)
    paths.model_stats(sure).write_bytes(paths.model_stats(paths.detector_model("paper")).read_bytes())
    paths.model_threshold(sure).write_text(json.dumps({"threshold": 0.5}))
    files = [str(inside / row["path"]) for row in read_csv(inside / paths.features_file("test", "ids.csv"))]
    out = tmp_path / "scores.csv"
    predict.main([*files, "--model", str(sure), "--out", str(out)])
    rows = read_csv(out)
    p_fake, logits = (np.array([float(row[key]) for row in rows]) for key in ("p_fake", "logit"))
    expected = Detector.load(sure).predict(files)
    assert (p_fake < 1e-6).all() and len(np.unique(p_fake)) == len(np.unique(expected)) > len(files) // 2
    np.testing.assert_array_equal(p_fake, expected)  # the very numbers, so the very order
    np.testing.assert_array_equal(np.argsort(p_fake, kind="stable"), np.argsort(logits, kind="stable"))


def test_predict_scores_every_tile_of_a_large_image_by_default(inside, tmp_path):
    """A 100x72 image and a 32 px model: tiles start at 0, 32, 64 and flush with the border (68 down, 40 across)."""
    assert predict.tile_origins(100, 32) == [0, 32, 64, 68] and predict.tile_origins(72, 32) == [0, 32, 40]
    assert predict.tile_origins(64, 32) == [0, 32] and predict.tile_origins(31, 32) == []
    rng = np.random.default_rng(5)
    large = np.concatenate([photo_like(rng, 100)[:, :36], gan_like(rng, 100)[:, :36]], axis=1)  # 100 high, 72 wide
    save_png(tmp_path / "large.png", large)
    save_png(tmp_path / "small.png", photo_like(rng, 24))
    model = str(paths.detector_model("paper"))
    for flag, out in (([], tmp_path / "tiles.csv"), (["--view", "trained"], tmp_path / "view.csv")):
        predict.main(
            [str(tmp_path / "large.png"), str(tmp_path / "small.png"), "--model", model, "--out", str(out), *flag]
        )
    view, tiles = read_csv(tmp_path / "view.csv"), read_csv(tmp_path / "tiles.csv")
    detector = Detector.load(model)
    expected = detector.predict(
        [large[top : top + 32, left : left + 32] for top in (0, 32, 64, 68) for left in (0, 32, 40)]
    )
    assert (tiles[0]["view"], tiles[0]["tiles"]) == ("tiles", "12")
    assert float(tiles[0]["p_fake"]) == pytest.approx(expected.mean(), rel=1e-12)
    assert float(tiles[0]["p_fake_max"]) == pytest.approx(expected.max(), rel=1e-12)
    assert tiles[0]["label"] == ("fake" if expected.mean() >= detector.threshold else "real")
    # the trained view on request: the central 32 px square, one of them
    assert (view[0]["view"], view[0]["tiles"]) == ("center", "1")
    assert float(view[0]["p_fake"]) == detector.predict([large])[0] == float(view[0]["p_fake_max"])
    assert tiles[1]["error"] == "24x24 is smaller than one 32x32 tile" and tiles[1]["p_fake"] == ""


def copy_detector(name: str, folder: Path, threshold: float | None) -> Path:
    """The published model and statistics of `name` copied into `folder`, with `threshold` saved beside them."""
    model = folder / f"{name}.keras"
    for locate in (Path, paths.model_stats):
        locate(model).write_bytes(locate(paths.detector_model(name)).read_bytes())
    if threshold is not None:
        paths.model_threshold(model).write_text(json.dumps({"threshold": threshold}))
    return model


def test_predict_labels_with_the_saved_threshold_unless_threshold_overrides_it(inside, tmp_path):
    files = [str(inside / row["path"]) for row in read_csv(inside / paths.features_file("test", "ids.csv"))]
    p_fake = gandct.load_detector(paths.detector_model("paper")).predict(files)
    levels = np.unique(p_fake)
    saved, override = (levels[-1] + levels[-2]) / 2, (levels[0] + levels[1]) / 2  # only the top / all but the lowest
    model = copy_detector("paper", tmp_path, saved)

    def labels(*options: str) -> list[str]:
        out = tmp_path / "labels.csv"
        predict.main([*files, "--model", str(model), "--out", str(out), *options])
        return [row["label"] for row in read_csv(out)]

    expected_saved = ["fake" if p >= saved else "real" for p in p_fake]
    assert expected_saved != ["fake" if p >= 0.5 else "real" for p in p_fake]  # 0.5 would label them otherwise
    assert labels() == expected_saved
    assert labels("--threshold", str(override)) == ["fake" if p >= override else "real" for p in p_fake]
    assert labels("--threshold", "0") == ["fake"] * len(files)
    for bad in ("1.5", "-0.1", "nan"):
        with pytest.raises(GandctError, match=rf"^--threshold must be between 0 and 1, got {bad}$"):
            labels("--threshold", bad)


def test_a_model_without_a_good_threshold_file_is_refused(inside, tmp_path):
    image = str(inside / read_csv(inside / paths.features_file("test", "ids.csv"))[0]["path"])
    model = copy_detector("paper", tmp_path, None)
    with pytest.raises(GandctError, match=r"paper\.threshold\.json not found: the train stage saves"):
        predict.main([image, "--model", str(model)])
    for content, problem in (("{}", "not a threshold file"), ('{"threshold": 2}', r"must be a number in \[0, 1\]")):
        paths.model_threshold(model).write_text(content)
        with pytest.raises(GandctError, match=problem):
            predict.main([image, "--model", str(model)])


def test_predict_refuses_unsafe_unknown_or_mismatched_models(inside, tmp_path):
    image = str(inside / read_csv(inside / paths.features_file("test", "ids.csv"))[0]["path"])
    junk = tmp_path / "junk.keras"
    junk.write_text("not a model")
    with pytest.raises(GandctError, match="not a gandct model that loads safely"):
        predict.main([image, "--model", str(junk)])

    inputs = keras.Input((32, 32, 1))
    unsafe = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs), name="paper")
    unsafe.save(tmp_path / "unsafe.keras")
    with pytest.raises(GandctError, match="not a gandct model that loads safely"):
        predict.main([image, "--model", str(tmp_path / "unsafe.keras")])

    stranger = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(inputs)), name="stranger")
    stranger.save(tmp_path / "stranger.keras")
    with pytest.raises(GandctError, match="unknown detector 'stranger'"):
        predict.main([image, "--model", str(tmp_path / "stranger.keras")])

    stats = paths.model_stats(paths.detector_model("paper"))
    (tmp_path / "paper.dct_stats.npz").write_bytes((inside / stats).read_bytes())
    # a detector of an older gandct: the sigmoid inside its last Dense, no logit of its own
    fused = keras.layers.Dense(1, activation="sigmoid", name="p_fake")(keras.layers.Flatten()(inputs))
    keras.Model(inputs, fused, name="paper").save(tmp_path / "paper.keras")
    with pytest.raises(GandctError, match="no sigmoid layer `p_fake` after the logit"):
        predict.main([image, "--model", str(tmp_path / "paper.keras")])

    small_inputs = keras.Input((16, 16, 1))
    logit = keras.layers.Dense(1, name="logit")(keras.layers.Flatten()(small_inputs))
    mismatched = keras.Model(small_inputs, keras.layers.Activation("sigmoid", name="p_fake")(logit), name="paper")
    mismatched.save(tmp_path / "paper.keras")
    with pytest.raises(GandctError, match=r"takes inputs of shape \(16, 16, 1\) but its statistics describe"):
        predict.main([image, "--model", str(tmp_path / "paper.keras")])


def test_exploration_notebook_runs_on_the_pipeline_outputs(inside):
    import ast

    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(REPO / "notebooks/1.0-dct-spectra-exploration.ipynb", as_version=4)
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(inside)}}
    ).execute()
    last = notebook.cells[-1].outputs[-1]["data"]["text/plain"]
    shares = ast.literal_eval(last.replace("np.float32(", "(").replace("np.float64(", "("))
    expected = json.loads((inside / "reports/saliency.json").read_text())
    assert shares.keys() == expected.keys()
    for name, share in shares.items():
        assert share == pytest.approx(expected[name]["vanilla"], abs=1e-4)


def test_each_seed_gets_the_per_generator_figures_of_its_own_scores(inside):
    """Real-only and fake-only accuracy at the val threshold, oracle accuracy and PD@5%, recomputed from the
    published scores and thresholds; the calibration error from its own bins; the unseen and third-party means
    are the means of each seed's figure over their sets."""
    detail = json.loads(paths.EVALUATION_DETAIL.read_text())
    assert detail["unseen_sets"] == UNSEEN and detail["third_party_sets"] == list(paths.THIRD_PARTY_SETS)
    paper = detail["detectors"]["paper"]
    for test_set in paths.TEST_SETS:
        rows = read_csv(inside / paths.EVALUATION_SCORES / f"{test_set}.csv")
        labels = np.array([int(row["label"]) for row in rows])
        for seed in SEEDS:
            p_fake = np.array([float(row[f"paper_seed_{seed}"]) for row in rows])
            called = p_fake >= paper["val_thresholds"][str(seed)]
            reals, fakes = np.sort(p_fake[labels == 0])[::-1], p_fake[labels == 1]
            cut = reals[int(0.05 * len(reals))]  # 12 reals: none may be called fake
            cuts = np.concatenate([p_fake, [np.inf]])
            expected = {
                "real_accuracy_at_val_threshold": np.mean(~called[labels == 0]),
                "fake_accuracy_at_val_threshold": np.mean(called[labels == 1]),
                "oracle_accuracy": max(np.mean((p_fake >= c) == labels) for c in cuts),
                "detection_at_5_percent_false_alarms": np.mean(fakes > cut),
                "calibration_error": sum(
                    abs(p_fake[in_bin].mean() - labels[in_bin].mean()) * in_bin.mean()
                    for edge in range(15)
                    if (in_bin := (np.minimum(p_fake * 15, 14.999).astype(int) == edge)).any()
                ),
            }
            summary = paper["sets"][test_set]["seeds"]
            for metric, value in expected.items():
                assert summary[metric]["seeds"][str(seed)] == pytest.approx(value, abs=1e-6), (test_set, metric)
    for mean, members in MEAN_SETS.items():
        for seed in SEEDS:
            for metric in ("roc_auc", "oracle_accuracy", "fake_accuracy_at_val_threshold", "calibration_error"):
                per_set = [paper["sets"][s]["seeds"][metric]["seeds"][str(seed)] for s in members]
                got = paper["sets"][mean]["seeds"][metric]["seeds"][str(seed)]
                assert got == pytest.approx(np.mean(per_set), abs=1e-6)
        assert paper["sets"][mean]["sets"] == members


def test_the_report_has_the_generator_tables_and_the_whole_quality_table(inside):
    text = (inside / "reports/report.md").read_text()
    detail = json.loads(paths.EVALUATION_DETAIL.read_text())
    generators = text.split("\n## Generators\n", 1)[1].split("\n## ", 1)[0]
    for key, title in report_markdown.GENERATOR_METRICS:
        table = table_cells(generators.split(report_markdown.sentence_start(title) + ":", 1)[1], "| model (seeds) |")
        assert list(next(iter(table.values()))) == [
            "ProGAN (seen)",
            "DCGAN",
            *(f"{family} twins" for family in paths.AUTOGAN_FAMILIES),
            "SRGAN (3rd party)",
            "SRResNet, MSE (3rd party)",
            "CycleGAN (3rd party)",
            "unseen mean",
            "third-party mean",
        ]
        for name, result in detail["detectors"].items():
            row = table[f"{name} ({len(result['seeds'])})"]
            for test_set, cell in zip([*paths.TEST_SETS, *MEAN_SETS], row.values(), strict=True):
                assert cell == report_markdown.spread(result["sets"][test_set]["seeds"][key]), (key, name, test_set)
    assert "No quality measured (`reports/augment/quality.json` missing)." in text  # no quality stage here
    twins = text.split("shows where that decoder acts", 1)[1]
    for family in paths.AUTOGAN_FAMILIES:
        assert f"(figures/twin_pairs_{family}.png)" in twins
