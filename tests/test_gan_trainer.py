"""The resumable trainer the GANs share: a killed run resumes where it stopped, for the ProGAN, the DCGAN and
the AutoGAN."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from helpers import photo_like

from gandct.gan.autogan import AutoGANConfig, AutoGANTrainer
from gandct.gan.dcgan import DCGANConfig, DCGANTrainer
from gandct.gan.pixels import to_unit_range
from gandct.gan.progan import ProGAN, ProGANConfig
from gandct.gan.progan_trainer import ProGANTrainer
from gandct.gan.trainer import Checkpoint, ResumableTrainer, fingerprint

PROGAN = ProGANConfig(
    resolution=8,
    latent_size=8,
    channels=(8, 4),
    fade_images=(8,),
    stable_images=(8, 8),
    batch_sizes=(4, 4),
    learning_rate=0.002,
    seed=5,
)
DCGAN = DCGANConfig(resolution=8, latent_size=8, channels=(4,), images=24, batch_size=4, learning_rate=0.0002, seed=5)
AUTOGAN = AutoGANConfig(family="nearest", channels=(4, 8), crop=8, batch_size=4, images=24, learning_rate=0.001, seed=5)


def progan(reals: np.ndarray, checkpoint: Checkpoint | None, cls: type = ProGANTrainer) -> ResumableTrainer:
    return cls(ProGAN(PROGAN), reals, checkpoint, checkpoint_seconds=0.0)


def dcgan(reals: np.ndarray, checkpoint: Checkpoint | None, cls: type = DCGANTrainer) -> ResumableTrainer:
    return cls(DCGAN, reals, checkpoint, checkpoint_seconds=0.0)


def autogan(reals: np.ndarray, checkpoint: Checkpoint | None, cls: type = AutoGANTrainer) -> ResumableTrainer:
    return cls(AUTOGAN, reals, checkpoint, checkpoint_seconds=0.0)


BUILDERS = {"progan": (progan, ProGANTrainer), "dcgan": (dcgan, DCGANTrainer), "autogan": (autogan, AutoGANTrainer)}


class KilledError(Exception):
    """Stands for the process being killed right after a checkpoint was written."""


def killed_at(cls: type, step: int) -> type:
    """The trainer class `cls`, killed right after the first checkpoint written at `step` or later."""

    def save(self: ResumableTrainer) -> None:
        cls.save(self)
        if self.state.step >= step:
            raise KilledError

    return type(f"Killed{cls.__name__}", (cls,), {"save": save})


@pytest.fixture(scope="module")
def reals() -> np.ndarray:
    rng = np.random.default_rng(0)
    return to_unit_range(np.stack([photo_like(rng, 8) for _ in range(16)]))


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_a_killed_run_of_either_gan_resumes_its_counters_weights_and_losses(name, tmp_path, reals):
    build, cls = BUILDERS[name]
    checkpoint = Checkpoint(tmp_path / name, fingerprint({"gan": name}, ["a"]))
    killed = build(reals, checkpoint, killed_at(cls, 3))
    with pytest.raises(KilledError):
        killed.train(progress=False)
    assert killed.state.step == 3
    saved = killed.checkpoint_arrays()

    resumed = build(reals, checkpoint)
    fresh = resumed.checkpoint_arrays()
    assert resumed.resume()
    assert resumed.state.step == 3 and resumed.state.images == 12 and len(resumed.history.rows) == 3
    assert resumed.history.rows == killed.history.rows
    restored = resumed.checkpoint_arrays()
    assert restored.keys() == saved.keys()
    for key, value in saved.items():
        np.testing.assert_array_equal(restored[key], value, err_msg=key)
    assert any(not np.array_equal(fresh[key], saved[key]) for key in saved)  # the weights did change

    resumed.train(progress=False)
    straight = build(reals, None)
    straight.train(progress=False)
    assert resumed.state.step == straight.state.step == straight.total_steps == 6
    # Random draws are keyed by the step, so the resumed run ends where an uninterrupted one does.
    np.testing.assert_allclose(resumed.history.as_array(), straight.history.as_array(), rtol=1e-4, atol=1e-5)
    assert set(resumed.state.phase_seconds) == {phase.name for phase in resumed.phases}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_a_truncated_or_misfitting_checkpoint_starts_fresh(name, tmp_path, reals, caplog):
    build, _ = BUILDERS[name]
    checkpoint = Checkpoint(tmp_path / name, fingerprint({"gan": name}, ["a"]))
    build(reals, checkpoint).train(progress=False)
    assert build(reals, checkpoint).resume()
    # The other GAN's checkpoint under this one's fingerprint: its arrays do not fit.
    other_build, _ = BUILDERS[{"progan": "dcgan", "dcgan": "progan", "autogan": "dcgan"}[name]]
    other = Checkpoint(tmp_path / "other", checkpoint.fingerprint)
    other_build(reals, other).train(progress=False)
    trainer = build(reals, other)
    with caplog.at_level(logging.INFO, logger="gandct.gan.trainer"):
        assert not trainer.resume()
    assert "does not fit this model" in caplog.text and trainer.state.step == 0
    (tmp_path / name / "arrays.npz").write_bytes(b"cut short by a crash")
    trainer = build(reals, checkpoint)
    with caplog.at_level(logging.INFO, logger="gandct.gan.trainer"):
        assert not trainer.resume()
    assert "unreadable" in caplog.text and trainer.state.step == 0
