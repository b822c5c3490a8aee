"""`make quick`: its overrides are valid params, mark the run as a first look, and the report says so."""

from __future__ import annotations

import re

import yaml
from helpers import REPO

from gandct.params import parse_params
from gandct.report_markdown import first_look_note


def quick_overrides() -> dict[str, object]:
    """The `-S key=value` overrides of the Makefile's QUICK_PARAMS, values parsed as DVC parses them (YAML)."""
    makefile = (REPO / "Makefile").read_text()
    block = re.search(r"^QUICK_PARAMS :=(.*?)(?<!\\)\n", makefile, re.S | re.M).group(1)
    pairs = re.findall(r"-S '?([^' ]+)=([^' ]+)'?", block)
    return {key: yaml.safe_load(value) for key, value in pairs}


def with_overrides(raw: dict, overrides: dict[str, object]) -> dict:
    for dotted, value in overrides.items():
        *parents, key = dotted.split(".")
        section = raw
        for name in parents:
            section = section[name]
        assert key in section, f"{dotted} is not a key of params.yaml"
        section[key] = value
    return raw


def progan_steps(progan) -> int:
    """Training steps of a ProGAN schedule: each phase's images over its resolution's minibatch."""
    stable = sum(images // batch for images, batch in zip(progan.stable_images, progan.batch_sizes, strict=True))
    return stable + sum(
        images // batch for images, batch in zip(progan.fade_images, progan.batch_sizes[1:], strict=True)
    )


def test_quick_overrides_are_valid_params_of_smaller_budgets_marked_as_a_first_look():
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    full = parse_params(raw)
    overrides = quick_overrides()
    assert len(overrides) >= 10
    quick = parse_params(with_overrides(raw, overrides))
    assert quick.augment.first_look and not full.augment.first_look
    # Steps set the cost at a given width (docs/augment.md): fewer steps of narrower networks.
    assert progan_steps(quick.augment.progan) < progan_steps(full.augment.progan) / 2
    assert all(q <= f for q, f in zip(quick.augment.progan.channels, full.augment.progan.channels, strict=True))
    assert quick.augment.dcgan.images < full.augment.dcgan.images
    assert quick.autogan.images < full.autogan.images


def test_the_report_says_a_first_look_is_not_meant_to_pass_and_a_full_run_says_nothing():
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    assert first_look_note(parse_params(raw).augment.first_look) == []
    raw["augment"]["first_look"] = True
    (note,) = first_look_note(parse_params(raw).augment.first_look)
    assert "not meant to pass" in note
