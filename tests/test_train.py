"""Training on small cached features: the models learn, save and reload safely, and repeat exactly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import yaml
from conftest import REPO, pipeline_env

from gandct import models, paths, train
from gandct.dct import DctStats, Preprocessing, cached_inputs
from gandct.params import load_params

SIZE = 16


def write_features(root: Path) -> None:
    """Cached features where fakes carry extra energy in the high-frequency corner, as GAN images do; the
    log spectra have mean 3 and std 2, which the train statistics undo."""
    rng = np.random.default_rng(0)
    for split, count in (("train", 160), ("val", 48), ("test", 48)):
        folder = root / paths.processed_split(split)
        folder.mkdir(parents=True)
        labels = (np.arange(count) % 2).astype(np.float32)
        spectra = rng.normal(size=(count, SIZE, SIZE, 1)).astype(np.float32)
        spectra[labels == 1, SIZE // 2 :, SIZE // 2 :, 0] += 1.0
        np.save(folder / "dct.npy", 3 + 2 * spectra)
        np.save(folder / "pixels.npy", np.round(127.5 * (np.tanh(spectra) + 1)).astype(np.uint8))
        np.save(folder / "y.npy", labels)
    shape = (SIZE, SIZE, 1)
    preprocessing = Preprocessing(image_size=SIZE, crop="center", color="gray", jpeg_quality=None, eps=1e-3)
    DctStats(preprocessing, np.full(shape, 3, np.float32), np.full(shape, 2, np.float32), 160).save(
        root / paths.DCT_STATS
    )


def read_test_inputs(root: Path, kind: str) -> np.ndarray:
    """The test split as a model reads it: z-scored log spectra or pixels in [-1, 1]."""
    rows = np.load(root / paths.features_file("test", "dct.npy" if kind == "dct" else "pixels.npy"))
    return cached_inputs(rows, kind, DctStats.load(root / paths.DCT_STATS))


def write_tiny_params(root: Path, **train_overrides) -> None:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for name in ("paper", "custom", "paper_pixel"):
        params["train"][name].update(epochs=8, batch_size=16, patience=3)
    params["train"]["xception"].update(epochs=1, batch_size=32)
    params["train"]["custom"]["width"] = 4
    params["features"]["image_size"] = SIZE
    params["train"].update(train_overrides)
    (root / "params.yaml").write_text(yaml.safe_dump(params))


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    write_features(tmp_path)
    write_tiny_params(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("name", ["paper", "custom", "paper_pixel", "linear"])
def test_each_model_learns_saves_and_reloads_safely(workdir, name):
    params = load_params()
    model, history = train.fit(name, params)
    figures = train.save_outputs(name, model, history, seconds=1.0)

    assert figures["val_accuracy"] >= 0.8, figures
    x_test = read_test_inputs(workdir, models.MODELS[name].features)
    before = model.predict(x_test, verbose=0)
    reloaded = keras.saving.load_model(workdir / paths.detector_model(name), safe_mode=True)
    assert (workdir / paths.model_stats(paths.detector_model(name))).read_bytes() == paths.DCT_STATS.read_bytes()
    np.testing.assert_allclose(reloaded.predict(x_test, verbose=0), before, rtol=1e-5, atol=1e-6)
    saved = json.loads((workdir / "reports/metrics" / f"{name}_train.json").read_text())
    assert saved == figures
    assert (workdir / "reports/figures" / f"train_{name}.png").stat().st_size > 10_000
    val_loss = (workdir / "reports/train" / name / "plots/metrics/eval/loss.tsv").read_text().splitlines()
    assert val_loss[0] == "step\tloss" and len(val_loss) == 1 + len(history["val_loss"])


def test_linear_model_is_the_fitted_logistic_regression(workdir):
    from sklearn.linear_model import LogisticRegression

    params = load_params()
    model, _ = train.fit("linear", params)
    x_train = (np.load(workdir / paths.features_file("train", "dct.npy")) - 3) / 2
    y_train = np.load(workdir / paths.features_file("train", "y.npy"))
    x_test = read_test_inputs(workdir, "dct")
    reference = LogisticRegression(C=params.train.linear.l2_inverse, max_iter=params.train.linear.max_iter)
    reference.fit(x_train.reshape(len(x_train), -1), y_train)
    expected = reference.predict_proba(x_test.reshape(len(x_test), -1))[:, 1]
    np.testing.assert_allclose(model.predict(x_test, verbose=0)[:, 0], expected, atol=1e-5)


def test_same_params_give_the_same_metrics_across_processes(tmp_path):
    runs = []
    for run in ("first", "second"):
        root = tmp_path / run
        write_features(root)
        write_tiny_params(root)
        subprocess.run(
            [sys.executable, "-m", "gandct.train", "custom"],
            cwd=root,
            env=pipeline_env(),
            check=True,
            capture_output=True,
        )
        runs.append((root / "reports/metrics/custom_train.json").read_text())
        weights = keras.saving.load_model(root / paths.detector_model("custom")).get_weights()
        runs.append(weights)
    assert runs[0] == runs[2]
    for first, second in zip(runs[1], runs[3], strict=True):
        np.testing.assert_array_equal(first, second)


def test_mirrored_strategy_trains_through_the_same_code_path(workdir):
    write_tiny_params(workdir, strategy="mirrored")
    params = load_params()
    _, history = train.fit("paper", params)
    assert len(history["val_loss"]) >= 1


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
    model, history = train.fit("custom", load_params())
    train.save_outputs("custom", model, history, seconds=1.0)
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
        train.fit("paper", load_params())
