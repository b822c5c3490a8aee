"""params.yaml validation: the shipped file loads, and every kind of mistake names its key."""

from __future__ import annotations

import copy

import pytest
import yaml
from helpers import REPO

from gandct.errors import ParamsError
from gandct.params import load_params, parse_params


@pytest.fixture
def raw_params() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text())


def test_shipped_params_load():
    params = load_params(REPO / "params.yaml")
    assert params.data.source == "sample"
    assert params.prepare.split.train + params.prepare.split.val + params.prepare.split.test == pytest.approx(1)


@pytest.mark.parametrize(
    ("section", "key", "value", "expected"),
    [
        ("data", "patch_size", "64", "data.patch_size: Input should be a valid integer"),
        ("data", "patch_size", 64.5, "data.patch_size: Input should be a valid integer"),
        ("data", "source", "s3", "data.source: Input should be 'sample', 'kaggle' or 'folder'"),
        ("prepare", "min_size", True, "prepare.min_size: Input should be a valid integer"),
        ("data", "kaggle_dataset", "no-slash", "data.kaggle_dataset: String should match pattern"),
    ],
)
def test_wrong_type_names_the_key(raw_params, section, key, value, expected):
    raw_params[section][key] = value
    with pytest.raises(ParamsError) as err:
        parse_params(raw_params)
    assert expected in str(err.value)
    assert repr(value) in str(err.value)


def test_unknown_key_names_the_key(raw_params):
    raw_params["prepare"]["min_sise"] = 32
    with pytest.raises(ParamsError, match=r"prepare\.min_sise: unknown key"):
        parse_params(raw_params)


def test_a_misspelt_key_is_named_with_the_closest_valid_one(raw_params):
    raw_params["prepare"]["min_sise"] = raw_params["prepare"].pop("min_size")
    with pytest.raises(ParamsError) as err:
        parse_params(raw_params)
    # the missing prepare.min_size is the same typo, not one more problem
    assert str(err.value) == "params.yaml: prepare.min_sise: unknown key; did you mean prepare.min_size?"
    raw_params["prepare"]["min_size"] = raw_params["prepare"].pop("min_sise")
    raw_params["augment"]["progan"]["latent_sise"] = 8  # beside the right key: the unknown one is the only problem
    with pytest.raises(ParamsError) as err:
        parse_params(raw_params)
    assert str(err.value).endswith("augment.progan.latent_sise: unknown key; did you mean augment.progan.latent_size?")
    raw_params["augment"]["progan"].pop("latent_sise")
    raw_params["prepare"]["zzz"] = 1
    with pytest.raises(ParamsError, match=r"prepare\.zzz: unknown key \(check the spelling"):
        parse_params(raw_params)


def test_unknown_section_names_the_key(raw_params):
    raw_params["trian"] = {}
    with pytest.raises(ParamsError, match=r"params\.yaml: trian: unknown key"):
        parse_params(raw_params)


def test_missing_key_names_the_key(raw_params):
    del raw_params["data"]["patch_size"]
    with pytest.raises(ParamsError, match=r"data\.patch_size: missing key"):
        parse_params(raw_params)


def test_split_fractions_must_sum_to_one(raw_params):
    raw_params["prepare"]["split"] = {"train": 0.8, "val": 0.15, "test": 0.15}
    with pytest.raises(ParamsError, match=r"prepare\.split: .*must be 1"):
        parse_params(raw_params)


def test_several_problems_are_counted_in_one_message(raw_params):
    broken = copy.deepcopy(raw_params)
    broken["data"]["patch_size"] = "x"
    broken["seed"] = "x"
    with pytest.raises(ParamsError, match=r"and 1 more problem\)$"):
        parse_params(broken)


def test_invalid_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(bad)
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "absent.yaml")


def test_cli_prints_one_line_naming_the_key(tmp_path, raw_params, monkeypatch, capsys):
    from gandct.cli import main

    raw_params["data"]["patches_per_photo"] = "many"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw_params))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["download"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    expected = "gandct download: error: params.yaml: data.patches_per_photo: Input should be a valid integer"
    assert err.startswith(expected)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"train": {"models": ["paper", "linear"]}},
            r"params\.yaml: report\.saliency_models: custom not in train\.models \['paper', 'linear'\]",
        ),
        (
            {"report": {"saliency_models": ["paper", "paper_pixel"]}},
            r"params\.yaml: report\.saliency_models: paper_pixel reads pixels.*in train\.models: paper, custom, linear",
        ),
        (
            {"features": {"image_size": 128}},
            r"params\.yaml: features\.image_size=128 is larger than augment\.resolution=64 with features\.crop: center",
        ),
    ],
    ids=["saliency-model-not-trained", "saliency-model-on-pixels", "image-size-above-gan-resolution"],
)
def test_sections_that_disagree_are_one_message_naming_the_keys(raw_params, overrides, expected):
    for section, values in overrides.items():
        raw_params[section].update(values)
    with pytest.raises(ParamsError, match=expected) as err:
        parse_params(raw_params)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("crop", ["center", "resize"])
def test_two_views_are_one_error_naming_the_keys_and_one_view_loads(raw_params, crop):
    """The GANs learn the features.crop view at augment.resolution; a detector view larger than the fakes would
    scale the fakes up and not the photographs (resize) or find no fake to crop (center)."""
    raw_params["features"].update(image_size=128, crop=crop)
    with pytest.raises(
        ParamsError,
        match=rf"features\.image_size=128 is larger than augment\.resolution=64 with "
        rf"features\.crop: {crop}, .*; lower features\.image_size or raise augment\.resolution$",
    ):
        parse_params(raw_params)
    raw_params["features"].update(image_size=32)
    assert parse_params(raw_params).features.image_size == 32


def test_a_stage_stops_at_the_params_before_any_work(tmp_path, raw_params, monkeypatch, capsys):
    from gandct.cli import main

    raw_params["train"]["models"] = ["paper", "linear"]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw_params))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        main(["download"])  # the first stage, long before the report would need the missing model
    assert "report.saliency_models: custom not in train.models" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [tmp_path / "params.yaml"]


def test_detector_names_are_the_models_keras_builds():
    from gandct.detector_names import INPUT_KIND
    from gandct.models import MODELS
    from gandct.params import TrainParams

    assert {name: spec.features for name, spec in MODELS.items()} == INPUT_KIND
    assert set(INPUT_KIND) <= set(TrainParams.model_fields)  # every detector has its train section


PERTURB_OFF = {"share": 0.5, "jpeg": None, "blur": None, "noise": None}


@pytest.mark.parametrize(
    ("perturb", "expected"),
    [
        ({**PERTURB_OFF, "jpeg": [95, 60]}, r"train\.custom\.perturb\.jpeg: .*\[lowest, highest\]"),
        ({**PERTURB_OFF, "jpeg": [60, 101]}, r"train\.custom\.perturb\.jpeg\.1: .*less than or equal to 100"),
        (PERTURB_OFF, r"train\.custom\.perturb: .*all null"),
        ({**PERTURB_OFF, "share": 0.0, "jpeg": [60, 95]}, r"train\.custom\.perturb\.share"),
    ],
)
def test_a_bad_training_perturbation_names_the_key(raw_params, perturb, expected):
    raw_params["train"]["custom"]["perturb"] = perturb
    with pytest.raises(ParamsError, match=expected):
        parse_params(raw_params)


def test_training_perturbations_list_only_the_kinds_that_are_on(raw_params):
    raw_params["train"]["paper"]["perturb"] = {"share": 0.3, "jpeg": None, "blur": [0.5, 1.0], "noise": [1.0, 4.0]}
    settings = parse_params(raw_params).train.paper.perturb
    assert settings.ranges() == {"blur": [0.5, 1.0], "noise": [1.0, 4.0]}
