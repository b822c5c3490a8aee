"""Training on small cached features: the models learn once per seed, save and reload safely with their
val-chosen thresholds, users score with the ensemble of every seed, and training repeats exactly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from helpers import pipeline_env, write_features, write_tiny_params

from gandct import fitting, models, paths
from gandct.comparison import choose_threshold
from gandct.dct import DctStats, cached_inputs
from gandct.detector import Detector
from gandct.detector_names import SEEDLESS
from gandct.params import TrainPerturbParams, load_params
from gandct.radial_spectrum import azimuthal_profiles, power_law_features
from gandct.stages import train


def read_test_inputs(root: Path, kind: str) -> np.ndarray:
    """The test split as a model reads it: z-scored log spectra or pixels in [-1, 1]."""
    rows = np.load(root / paths.features_file("test", "dct.npy" if kind == "dct" else "pixels.npy"))
    return cached_inputs(rows, kind, DctStats.load(root / paths.DCT_STATS))


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    write_features(tmp_path)
    write_tiny_params(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def val_scores(model: keras.Model, kind: str) -> np.ndarray:
    """p_fake of the val split as every scorer computes it: the float64 sigmoid of the model's logits."""
    rows = np.load(paths.features_file("val", "dct.npy" if kind == "dct" else "pixels.npy"))
    logits = models.logit_model(model).predict(cached_inputs(rows, kind, DctStats.load(paths.DCT_STATS)), verbose=0)
    return models.probabilities(logits[:, 0])


@pytest.mark.parametrize("name", ["paper", "custom", "paper_pixel", "linear", "durall", "dzanic"])
def test_each_model_learns_per_seed_saves_and_reloads_safely(workdir, name):
    summary = train.train_detector(name, load_params())

    seeds = [0] if name in SEEDLESS else [0, 1]  # the baselines: one deterministic fit, stored as the first seed's
    assert list(summary["seeds"]) == [str(seed) for seed in seeds]
    assert json.loads(paths.train_summary(name).read_text()) == summary
    kind = models.MODELS[name].features
    x_test = read_test_inputs(workdir, kind)
    labels = np.load(paths.features_file("val", "y.npy")).astype(int)
    for seed, figures in summary["seeds"].items():
        model_path = paths.seed_model(name, int(seed))
        # Learned: below the 0.693 loss of a constant 0.5, and right on most val images at its threshold.
        assert figures["val_loss"] < 0.6 and figures["val_accuracy_at_threshold"] >= 0.8, figures
        reloaded = keras.saving.load_model(model_path, safe_mode=True)
        assert paths.model_stats(model_path).read_bytes() == paths.DCT_STATS.read_bytes()
        # The saved threshold is the val split's best cut of this seed's own scores.
        saved = json.loads(paths.model_threshold(model_path).read_text())
        assert saved["threshold"] == figures["threshold"] == choose_threshold(labels, val_scores(reloaded, kind))
        assert Detector.load(model_path).threshold == saved["threshold"]
        assert reloaded.predict(x_test, verbose=0).shape == (len(x_test), 1)
        val_loss = (paths.train_curves(name) / f"seed_{seed}/eval/loss.tsv").read_text().splitlines()
        assert val_loss[0] == "step\tloss" and len(val_loss) == 1 + figures["epochs_run"]
    assert sorted(path.name for path in paths.train_curves(name).iterdir()) == [f"seed_{s}" for s in summary["seeds"]]
    timing = json.loads(paths.train_timing(name).read_text())
    assert list(timing["train_seconds"]) == list(summary["seeds"])
    assert (workdir / "reports/figures" / f"train_{name}.png").stat().st_size > 10_000


def logits(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """The logit a detector's sigmoid reads: the input of its `p_fake` layer."""
    return keras.Model(model.input, model.get_layer("p_fake").input).predict(x, verbose=0)[:, 0]


def test_users_score_with_the_ensemble_of_every_seed(workdir):
    summary = train.train_detector("custom", load_params())
    losses = {int(seed): figures["val_loss"] for seed, figures in summary["seeds"].items()}
    assert len(set(losses.values())) == 2, losses  # the seeds really train different models
    assert summary["best_seed"] == min(losses, key=losses.get)  # kept: the report draws its training curves
    published = paths.detector_model("custom")
    ensemble = keras.saving.load_model(published, safe_mode=True)
    assert ensemble.name == "custom"
    assert {"seed_0", "seed_1"} <= {layer.name for layer in ensemble.layers}
    # p_fake of the val images is the sigmoid of the mean of the saved seed models' logits.
    rows = np.load(paths.features_file("val", "dct.npy"))
    x_val = cached_inputs(rows, "dct", DctStats.load(paths.DCT_STATS))
    seed_logits = [
        logits(keras.saving.load_model(paths.seed_model("custom", s), safe_mode=True), x_val) for s in (0, 1)
    ]
    p_fake = ensemble.predict(x_val, verbose=0)[:, 0]
    np.testing.assert_allclose(p_fake, 1 / (1 + np.exp(-np.mean(seed_logits, axis=0))), rtol=1e-5, atol=1e-6)
    # Its own threshold, the val split's best cut of its own scores, saved beside it with the statistics.
    labels = np.load(paths.features_file("val", "y.npy")).astype(int)
    threshold = choose_threshold(labels, p_fake.astype(np.float64))
    assert summary["published"]["kind"] == "seed ensemble (mean logit)" and summary["published"]["seeds"] == [0, 1]
    assert summary["published"]["threshold"] == pytest.approx(threshold, abs=1e-6)
    assert summary["published"]["val_balanced_accuracy_at_threshold"] >= 0.8
    assert paths.model_stats(published).read_bytes() == paths.DCT_STATS.read_bytes()
    assert Detector.load(published).threshold == summary["published"]["threshold"]


def test_best_seed_is_the_lowest_val_loss_and_the_first_on_a_tie():
    assert train.best_seed({3: {"val_loss": 0.2}, 1: {"val_loss": 0.1}, 2: {"val_loss": 0.3}}) == 1
    assert train.best_seed({3: {"val_loss": 0.1}, 1: {"val_loss": 0.1}}) == 3


def test_durall_is_the_fitted_logistic_regression_on_the_radial_profiles(workdir):
    from sklearn.linear_model import LogisticRegression

    params = load_params()
    train.train_detector("durall", params)
    model = keras.saving.load_model(paths.detector_model("durall"), safe_mode=True)
    x_train = azimuthal_profiles(np.load(workdir / paths.features_file("train", "pixels.npy")))
    y_train = np.load(workdir / paths.features_file("train", "y.npy"))
    x_test = read_test_inputs(workdir, "radial")
    reference = LogisticRegression(C=params.train.durall.l2_inverse, max_iter=params.train.durall.max_iter)
    expected = reference.fit(x_train, y_train).predict_proba(x_test)[:, 1]
    np.testing.assert_allclose(model.predict(x_test, verbose=0)[:, 0], expected, atol=1e-5)


def test_dzanic_votes_as_k_nearest_neighbours_on_standardised_features_and_reloads(workdir):
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train.train_detector("dzanic", load_params())
    model = keras.saving.load_model(paths.detector_model("dzanic"), safe_mode=True)
    x_train = power_law_features(np.load(workdir / paths.features_file("train", "pixels.npy")))
    y_train = np.load(workdir / paths.features_file("train", "y.npy"))
    x_test = read_test_inputs(workdir, "power_law")
    reference = make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=5)).fit(x_train, y_train)
    fakes = 5 * reference.predict_proba(x_test)[:, 1]  # of the 5 nearest train images
    expected = (fakes + 0.5) / (5 + 1)  # the vote's finite logit, log((f + 1/2) / (k - f + 1/2)), as p_fake
    np.testing.assert_allclose(model.predict(x_test, verbose=0)[:, 0], expected, atol=1e-5)


def test_linear_model_is_the_fitted_logistic_regression(workdir):
    from sklearn.linear_model import LogisticRegression

    params = load_params()
    train.train_detector("linear", params)
    model = keras.saving.load_model(paths.detector_model("linear"), safe_mode=True)
    x_train = DctStats.load(paths.DCT_STATS).normalize(np.load(workdir / paths.features_file("train", "dct.npy")))
    y_train = np.load(workdir / paths.features_file("train", "y.npy"))
    x_test = read_test_inputs(workdir, "dct")
    reference = LogisticRegression(C=params.train.linear.l2_inverse, max_iter=params.train.linear.max_iter)
    reference.fit(x_train.reshape(len(x_train), -1), y_train)
    expected = reference.predict_proba(x_test.reshape(len(x_test), -1))[:, 1]
    np.testing.assert_allclose(model.predict(x_test, verbose=0)[:, 0], expected, atol=1e-5)


def train_in_process(root: Path, seeds: list[int]) -> tuple[str, dict[int, list[np.ndarray]]]:
    write_features(root)
    write_tiny_params(root, seeds=seeds)
    subprocess.run(
        [sys.executable, "-m", "gandct.stages.train", "custom"],
        cwd=root,
        env=pipeline_env(),
        check=True,
        capture_output=True,
    )
    weights = {seed: keras.saving.load_model(root / paths.seed_model("custom", seed)).get_weights() for seed in seeds}
    return (root / paths.train_summary("custom")).read_text(), weights


def test_same_params_and_seeds_give_the_same_metrics_across_processes(tmp_path):
    first_summary, first = train_in_process(tmp_path / "first", [0, 1])
    second_summary, second = train_in_process(tmp_path / "second", [0, 1])
    _, alone = train_in_process(tmp_path / "alone", [1])
    assert first_summary == second_summary
    for seed in (0, 1):
        for a, b in zip(first[seed], second[seed], strict=True):
            np.testing.assert_array_equal(a, b)
    # A seed's model does not depend on the seeds trained before it in the same process.
    for a, b in zip(first[1], alone[1], strict=True):
        np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in zip(first[0], first[1], strict=True))


def test_mirrored_strategy_trains_through_the_same_code_path(workdir):
    write_tiny_params(workdir, strategy="mirrored", seeds=[0])
    summary = train.train_detector("paper", load_params())
    assert summary["seeds"]["0"]["epochs_run"] >= 1


def test_paper_cnn_matches_the_paper():
    model = models.paper_cnn((64, 64, 1))
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [conv.filters for conv in convs] == [3, 8, 16, 32]
    assert all(conv.kernel_size == (3, 3) and conv.padding == "same" for conv in convs)
    assert sum(isinstance(layer, keras.layers.AveragePooling2D) for layer in model.layers) == 2
    assert model.output_shape == (None, 1)
    assert model.layers[-1].activation is keras.activations.sigmoid


def test_frequency_coordinates_give_each_coefficient_its_position():
    inputs = keras.Input((5, 3, 1))
    with_coordinates = keras.Model(inputs, models.frequency_coordinates(inputs))
    spectra = np.random.default_rng(2).normal(size=(2, 5, 3, 1)).astype(np.float32)
    out = with_coordinates.predict(spectra, verbose=0)
    assert out.shape == (2, 5, 3, 3)
    np.testing.assert_array_equal(out[..., :1], spectra)
    for image in out:  # the same coordinates whatever the input
        np.testing.assert_allclose(image[:, 0, 1], [0, 0.25, 0.5, 0.75, 1], atol=1e-7)
        np.testing.assert_allclose(image[0, :, 2], [0, 0.5, 1], atol=1e-7)
        np.testing.assert_allclose(image[:, :, 1], np.repeat(image[:, :1, 1], 3, axis=1))
        np.testing.assert_allclose(image[:, :, 2], np.repeat(image[:1, :, 2], 5, axis=0))
    assert not with_coordinates.trainable_weights  # fixed channels: training cannot move them


LOAD_IN_PLAIN_KERAS = """
import sys
import keras
model = keras.saving.load_model(sys.argv[1], safe_mode=True)
print(model.name, sorted(name for name in sys.modules if name.startswith("gandct")))
"""


@pytest.mark.parametrize("first_import", ["", "import gandct\n"], ids=["no-gandct", "after-import-gandct"])
def test_a_saved_custom_model_loads_in_plain_keras(workdir, first_import):
    write_tiny_params(workdir, seeds=[0])
    train.train_detector("custom", load_params())
    script = first_import + LOAD_IN_PLAIN_KERAS
    result = subprocess.run(
        [sys.executable, "-c", script, str(paths.detector_model("custom"))],
        cwd=workdir,
        env=pipeline_env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    expected = "['gandct']" if first_import else "[]"
    assert result.stdout.split(" ", 1) == ["custom", expected + "\n"]


def test_missing_features_is_a_clear_error(tmp_path, monkeypatch):
    write_tiny_params(tmp_path)
    monkeypatch.chdir(tmp_path)
    from gandct.errors import GandctError

    with pytest.raises(GandctError, match=r"dct_stats\.npz not found; run the features stage first"):
        train.train_detector("paper", load_params())


def test_perturbed_training_inputs_are_fresh_each_call_and_fixed_by_the_seed(workdir):
    settings = TrainPerturbParams(share=0.5, jpeg=[85, 95], blur=[0.3, 1.2], noise=[1.0, 6.0])
    rows = np.load(paths.features_file("train", "pixels.npy"))[:32]
    stats = DctStats.load(paths.DCT_STATS)
    clean = fitting.dct_features(rows, stats)
    inputs, twin = (fitting.perturbed_inputs("dct", stats, settings, seed=3) for _ in range(2))
    first, second = inputs(rows), inputs(rows)
    assert first.shape == clean.shape and first.dtype == np.float32
    assert not np.array_equal(first, second)  # every epoch draws new perturbations
    np.testing.assert_array_equal(first, twin(rows))  # the same seed gives the same run
    untouched = np.all(first == clean, axis=(1, 2, 3))  # images that drew no perturbation keep their input
    assert 0 < untouched.sum() < len(rows)
