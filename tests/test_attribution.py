"""Source attribution: the attribution sets, the attributors' softmax heads and seed ensembles, saving and
loading them with their class names, predict's source column, and the seed-aware interval of an accuracy."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from helpers import photo_like

import gandct
from gandct import models, paths
from gandct.cli import main as cli_main
from gandct.comparison import bootstrap_image_means
from gandct.dct import DctStats, Moments, Preprocessing, log_spectra
from gandct.detector import Detector, load_classes
from gandct.errors import GandctError
from gandct.fileio import read_csv
from gandct.images import save_png
from gandct.stages.features import attribution_items
from gandct.stages.train_attribution import save_attributor

SIZE = 16
SOURCES = len(paths.SOURCES)


def listing_rows(prefix: str, label: str, counts: dict[str, int]) -> list[dict[str, str]]:
    return [
        {"path": f"{prefix}/{split}_{index}.png", "label": label, "split": split, "group": prefix, "generator": ""}
        for split, count in counts.items()
        for index in range(count)
    ]


def test_an_attribution_set_holds_every_source_of_its_split_up_to_the_cap():
    manifest = listing_rows("real", "real", {"train": 10, "val": 3, "test": 3})
    generated = {gan: listing_rows(gan, "fake", {"train": 4, "val": 3, "test": 3}) for gan in paths.GENERATORS}
    items = attribution_items(manifest, generated, "attribution_train", per_class=5)
    by_source = {}
    for item in items:
        by_source.setdefault(paths.SOURCES[item.label], []).append(item.path)
    assert list(by_source) == list(paths.SOURCES)  # the label is the source's index
    assert by_source["real"] == [
        "real/train_0.png",
        "real/train_2.png",
        "real/train_4.png",
        "real/train_7.png",
        "real/train_9.png",
    ]  # five of ten, spread from the first to the last
    assert all(by_source[gan] == [f"{gan}/train_{i}.png" for i in range(4)] for gan in paths.GENERATORS)
    val = attribution_items(manifest, generated, "attribution_val", per_class=5)
    assert {item.path.split("/")[1].split("_")[0] for item in val} == {"val"}

    generated["dcgan"] = listing_rows("dcgan", "fake", {"test": 3})
    with pytest.raises(GandctError, match="attribution set attribution_train has no train images of dcgan"):
        attribution_items(manifest, generated, "attribution_train", per_class=5)


@pytest.mark.parametrize("builder", [models.paper_cnn, models.spectral_net])
def test_an_attributor_ends_in_a_softmax_over_the_sources(builder):
    keras.utils.set_random_seed(0)
    model = builder((SIZE, SIZE, 1), classes=SOURCES)
    x = np.random.default_rng(0).normal(size=(5, SIZE, SIZE, 1)).astype(np.float32)
    p_source = model.predict(x, verbose=0)
    assert model.layers[-1].name == "p_source" and p_source.shape == (5, SOURCES)
    np.testing.assert_allclose(p_source.sum(axis=1), 1.0, rtol=1e-5)
    logits = models.logit_model(model).predict(x, verbose=0)
    np.testing.assert_allclose(p_source, models.source_probabilities(logits), rtol=1e-5, atol=1e-7)


def test_a_multinomial_logistic_regression_keeps_its_weights():
    rng = np.random.default_rng(0)
    weights, biases = rng.normal(size=(SIZE * SIZE, SOURCES)), rng.normal(size=SOURCES)
    model = models.logistic_regression((SIZE, SIZE, 1), weights, biases)
    x = rng.normal(size=(4, SIZE, SIZE, 1)).astype(np.float32)
    expected = models.source_probabilities(x.reshape(4, -1) @ weights + biases)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-6)


@pytest.fixture
def attributor(tmp_path, monkeypatch):
    """A two-seed paper attributor saved as the train_attribution stage saves it, in a project at tmp_path."""
    monkeypatch.chdir(tmp_path)
    preprocessing = Preprocessing(image_size=SIZE, crop="center", color="gray", jpeg_quality=None, eps=1e-3)
    framed = np.random.default_rng(1).integers(0, 256, size=(8, SIZE, SIZE, 1), dtype=np.uint8)
    paths.ATTRIBUTION_DCT_STATS.parent.mkdir(parents=True)
    stats = DctStats.from_moments(Moments.of(log_spectra(framed, preprocessing.eps)), preprocessing)
    stats.save(paths.ATTRIBUTION_DCT_STATS)
    members = {}
    for seed in (0, 1):
        keras.utils.set_random_seed(seed)
        members[seed] = models.paper_cnn((SIZE, SIZE, 1), classes=SOURCES)
    ensemble = models.seed_ensemble(members, "paper")
    save_attributor(ensemble, paths.attributor_model("paper"))
    return ensemble, framed


def test_an_attributor_loads_with_its_class_names_and_scores_every_source(attributor):
    ensemble, framed = attributor
    assert ensemble.layers[-1].name == "p_source" and ensemble.get_layer("mean_logit")
    scorer = gandct.load_detector(paths.attributor_model("paper"))
    assert scorer.is_attributor and scorer.classes == paths.SOURCES and scorer.threshold is None
    p_source = scorer.predict_sources_framed(framed)
    assert p_source.dtype == np.float64 and p_source.shape == (8, SOURCES)
    np.testing.assert_allclose(p_source, ensemble.predict(scorer.inputs(framed), verbose=0), rtol=1e-5, atol=1e-7)
    with pytest.raises(GandctError, match="paper is an attributor"):
        scorer.predict_framed(framed)
    classes = paths.model_classes(paths.attributor_model("paper"))
    classes.write_text(json.dumps({"classes": ["real", "fake"]}))
    with pytest.raises(GandctError, match=f"classes must be {SOURCES} names"):
        load_classes(classes, SOURCES)


@pytest.mark.usefixtures("attributor")
def test_predict_with_an_attributor_writes_the_likeliest_source_and_every_probability(tmp_path):
    rng = np.random.default_rng(2)
    (tmp_path / "images").mkdir()
    for index in range(3):
        save_png(tmp_path / "images" / f"{index}.png", photo_like(rng, 24))
    (tmp_path / "images" / "broken.png").write_bytes(b"not an image")
    out = tmp_path / "sources.csv"
    with pytest.raises(SystemExit) as exit_status:
        model = str(paths.attributor_model("paper"))
        cli_main(["predict", "images", "--model", model, "--out", str(out), "--view", "trained"])
    assert exit_status.value.code == 0
    rows = read_csv(out)
    assert list(rows[0]) == ["path", "view", "tiles", "source", *(f"p_{s}" for s in paths.SOURCES), "error"]
    scorer = Detector.load(paths.attributor_model("paper"))
    expected = scorer.predict_sources([tmp_path / "images" / f"{index}.png" for index in range(3)])
    scored = [row for row in rows if not row["error"]]
    assert [row["path"] for row in scored] == [f"images/{index}.png" for index in range(3)]
    for row, p_source in zip(scored, expected, strict=True):
        probabilities = np.array([float(row[f"p_{source}"]) for source in paths.SOURCES])
        np.testing.assert_array_equal(probabilities, p_source)  # full precision through the CSV
        assert row["source"] == paths.SOURCES[int(p_source.argmax())] and row["tiles"] == "1"
    broken = next(row for row in rows if row["error"])
    assert broken["path"] == "images/broken.png" and broken["source"] == ""
    with pytest.raises(SystemExit) as exit_status:
        cli_main(["predict", "images", "--model", str(paths.attributor_model("paper")), "--threshold", "0.5"])
    assert exit_status.value.code == 1


def test_the_accuracy_interval_counts_the_spread_between_seeds():
    rng = np.random.default_rng(0)
    strata = np.repeat(np.arange(SOURCES), 40)
    calls = (rng.random(len(strata)) < 0.7).astype(float)
    one_seed = bootstrap_image_means(calls, None, strata, metric="accuracy", seed=0, resamples=500)
    assert one_seed.difference == pytest.approx(calls.mean()) and one_seed.seeds == (1, 0)
    assert one_seed.low < calls.mean() < one_seed.high and one_seed.high - one_seed.low < 0.2
    # Two seeds that disagree completely: the mean is 0.5 but a re-run may give either, which the seed draw shows.
    split = bootstrap_image_means(
        np.stack([np.ones(len(strata)), np.zeros(len(strata))]), None, strata, metric="accuracy", seed=0, resamples=500
    )
    assert split.difference == pytest.approx(0.5) and split.low == 0.0 and split.high == 1.0
    same = bootstrap_image_means(calls, calls, strata, metric="accuracy", seed=0, resamples=200)
    assert (same.difference, same.low, same.high) == (0.0, 0.0, 0.0)
