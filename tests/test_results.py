"""evaluate, report and predict on a small trained project: real images, the features stage, two
detectors trained for a few epochs, then the three result commands."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import keras
import numpy as np
import pytest
import yaml
from conftest import REPO, gan_like, photo_like

from gandct import evaluate, features, predict, report, train
from gandct.errors import GandctError
from gandct.images import save_png
from gandct.params import load_params
from gandct.saliency import high_frequency_share, quadrant_shares

COLUMNS = ["path", "label", "split", "group", "generator", "sha256"]
COUNTS = {"train": 40, "val": 12, "test": 12}
MODELS = ["paper", "linear"]


def write_listing(path: Path, rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows([{**row, "sha256": ""} for row in rows])


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory):
    """Images, listings, features and two trained detectors, built once; yields the project folder."""
    root = tmp_path_factory.mktemp("results")
    rng = np.random.default_rng(1)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["features"].update(image_size=32, workers=1)
    params["train"]["models"] = MODELS
    params["train"]["paper"].update(epochs=6, batch_size=16, patience=6)
    params["evaluate"]["perturbations"] = {"jpeg": [50], "noise": [5.0]}
    params["report"].update(saliency_models=["paper", "linear"], examples_per_class=2, smoothgrad_images=8)
    params["report"]["smooth_samples"] = 4
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    manifest, generated = [], []
    for split, count in COUNTS.items():
        for index in range(count):
            real, fake = f"raw/real/{split}_{index}.png", f"generated/progan/{split}/{index}.png"
            for path, image in ((real, photo_like(rng, 32)), (fake, gan_like(rng, 32))):
                (root / path).parent.mkdir(parents=True, exist_ok=True)
                save_png(root / path, image)
            manifest.append({"path": real, "label": "real", "split": split, "group": real, "generator": ""})
            generated.append({"path": fake, "label": "fake", "split": split, "group": fake, "generator": "progan"})
    for index in range(COUNTS["test"]):
        fake = f"generated/dcgan/{index}.png"
        (root / fake).parent.mkdir(parents=True, exist_ok=True)
        save_png(root / fake, gan_like(rng, 32))
        generated.append({"path": fake, "label": "fake", "split": "test_unseen", "group": fake, "generator": "dcgan"})
    write_listing(root / "data/interim/manifest.csv", manifest)
    for generator in ("progan", "dcgan"):
        listed = [row for row in generated if row["generator"] == generator]
        write_listing(root / f"data/interim/generated/{generator}.csv", listed)

    previous = Path.cwd()
    os.chdir(root)
    try:
        features.main([])
        loaded = load_params()
        for name in MODELS:
            model, history = train.fit(name, loaded)
            train.save_outputs(name, model, history, seconds=0.0)
        evaluate.main([])
        report.main([])
        yield root
    finally:
        os.chdir(previous)


@pytest.fixture
def inside(project, monkeypatch):
    monkeypatch.chdir(project)
    return project


def test_metrics_cover_every_model_and_test_set(inside):
    results = json.loads((inside / "reports/metrics.json").read_text())
    assert set(results) == set(MODELS)
    for by_set in results.values():
        assert list(by_set) == ["test", "test_unseen", "jpeg_50", "noise_5"]
        for figures in by_set.values():
            assert figures["images"] == 2 * COUNTS["test"]
            confusion = [figures[k] for k in ("true_negatives", "false_positives", "false_negatives", "true_positives")]
            assert sum(confusion) == figures["images"]
            assert figures["accuracy"] == pytest.approx((confusion[0] + confusion[3]) / figures["images"], abs=1e-6)
    assert results["paper"]["test"]["accuracy"] >= 0.9  # the checkerboard is easy to see in the DCT
    roc = read_rows(inside / "reports/evaluate/roc/paper.csv")
    assert float(roc[0]["fpr"]) == 0 and float(roc[-1]["tpr"]) == 1
    predictions = read_rows(inside / "reports/evaluate/predictions/linear.csv")
    assert len(predictions) == 2 * COUNTS["test"]


def test_perturbations_are_seeded_and_change_the_inputs(inside):
    params = load_params()
    detectors = {"paper": keras.saving.load_model("models/paper.keras", safe_mode=True)}
    from gandct.dct import DctStats

    stats = DctStats.load("data/processed/dct_stats.npz")
    first = evaluate.score_perturbed(detectors, stats, params)
    second = evaluate.score_perturbed(detectors, stats, params)
    np.testing.assert_array_equal(first["noise_5"]["paper"], second["noise_5"]["paper"])
    clean = evaluate.predict(detectors["paper"], np.load("data/processed/test_dct.npy"), 8)
    assert not np.allclose(first["jpeg_50"]["paper"], clean)


def test_detection_metrics_on_a_known_case():
    labels = np.array([0, 0, 1, 1])
    figures = evaluate.detection_metrics(labels, np.array([0.1, 0.6, 0.4, 0.9]))
    assert figures["accuracy"] == 0.5
    assert figures["roc_auc"] == 0.75
    assert (figures["false_positives"], figures["false_negatives"]) == (1, 1)


def test_report_has_every_figure_and_the_numbers_of_this_run(inside):
    figures = inside / "reports/figures"
    for name in ("samples", "mean_spectra", "mean_spectra_unseen", "diagonal_profile", "training_curves", "roc_test"):
        assert (figures / f"{name}.png").stat().st_size > 10_000, name
    for name in ("paper", "linear", "mean"):
        assert (figures / "saliency" / f"{name}.png").stat().st_size > 10_000, name
    text = (inside / "reports/report.md").read_text()
    results = json.loads((inside / "reports/metrics.json").read_text())
    assert f"| paper | {results['paper']['test']['accuracy']:.3f} |" in text
    shares = json.loads((inside / "reports/saliency.json").read_text())
    assert set(shares) == {"paper", "linear"}
    for share in shares.values():
        assert 0 < share["vanilla"] < 1 and share["uniform"] == 0.25
        assert share["quadrants"]["high"] == share["vanilla"]
        assert sum(share["quadrants"].values()) == pytest.approx(1, abs=1e-3)
        assert f"{share['vanilla']:.0%} of its saliency" in text
    assert "|---|---|---|---|---|\n| paper |" in text  # table rows stay together
    for link in [line for line in text.splitlines() if line.startswith("![")]:
        assert (inside / "reports" / link.split("(")[1].rstrip(")")).is_file(), link


def test_linear_saliency_is_its_weight_map(inside):
    """For a logistic regression the gradient of the logit is its weight vector, whatever the input."""
    from gandct.saliency import saliency_maps

    model = keras.saving.load_model("models/linear.keras", safe_mode=True)
    maps = saliency_maps(model, np.load("data/processed/test_dct.npy")[:3])
    weights = np.abs(model.get_layer("p_fake").get_weights()[0].reshape(32, 32))
    for saliency in maps:
        np.testing.assert_allclose(saliency, weights, rtol=1e-5)


def test_smoothgrad_noise_comes_from_the_seed(inside):
    from gandct.saliency import saliency_maps

    model = keras.saving.load_model("models/paper.keras", safe_mode=True)
    x = np.load("data/processed/test_dct.npy")[:2]
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
    test_rows = read_rows(inside / "data/processed/test_ids.csv")
    folder = tmp_path / "incoming"
    (folder / "nested").mkdir(parents=True)
    for index, row in enumerate(test_rows[:3]):
        (folder / "nested" / f"{index}.png").write_bytes((inside / row["path"]).read_bytes())
    (folder / "broken.png").write_bytes(b"not an image")
    out = tmp_path / "predictions.csv"
    predict.main([str(folder), "--model", "models/paper.keras", "--out", str(out)])
    rows = read_rows(out)
    assert [Path(row["path"]).name for row in rows] == ["broken.png", "0.png", "1.png", "2.png"]
    assert rows[0]["error"] == "not a decodable image" and rows[0]["p_fake"] == ""
    model = keras.saving.load_model("models/paper.keras", safe_mode=True)
    expected = model.predict(np.load("data/processed/test_dct.npy")[:3], verbose=0)[:, 0]
    np.testing.assert_allclose([float(row["p_fake"]) for row in rows[1:]], expected, atol=2e-6)
    assert [row["label"] for row in rows[1:]] == ["fake" if p >= 0.5 else "real" for p in expected]


def test_predict_refuses_unsafe_unknown_or_mismatched_models(inside, tmp_path):
    image = str(inside / read_rows(inside / "data/processed/test_ids.csv")[0]["path"])
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

    small_inputs = keras.Input((16, 16, 1))
    mismatched = keras.Model(small_inputs, keras.layers.Dense(1)(keras.layers.Flatten()(small_inputs)), name="paper")
    mismatched.save(tmp_path / "paper.keras")
    (tmp_path / "paper.dct_stats.npz").write_bytes((inside / "models/paper.dct_stats.npz").read_bytes())
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
