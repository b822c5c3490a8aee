"""The ProGAN's layers, blocks, exported generator and training loop, on small real inputs."""

from __future__ import annotations

import logging
import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import images_in_plain_keras, photo_like

from gandct.gan.layers import EqualizedConv2D, EqualizedDense, Fade, MinibatchStddev, PixelNorm
from gandct.gan.losses import gradient_penalty
from gandct.gan.pixels import to_unit_range
from gandct.gan.progan import ProGAN, ProGANConfig
from gandct.gan.progan_export import export_generator
from gandct.gan.progan_trainer import ProGANTrainer, downsample, schedule
from gandct.gan.trainer import Checkpoint, fingerprint


def tiny_config(**overrides) -> ProGANConfig:
    settings = {
        "resolution": 8,
        "latent_size": 8,
        "channels": (8, 4),
        "fade_images": (16,),
        "stable_images": (16, 16),
        "batch_sizes": (4, 4),
        "learning_rate": 0.002,
        "seed": 3,
    }
    return ProGANConfig(**{**settings, **overrides})


@pytest.fixture(scope="module")
def reals() -> np.ndarray:
    rng = np.random.default_rng(0)
    return to_unit_range(np.stack([photo_like(rng, 8) for _ in range(24)]))


# --- layers -------------------------------------------------------------------------------------------


def test_equalized_conv_scales_unit_normal_weights_by_the_he_constant():
    rng = np.random.default_rng(1)
    images = rng.normal(size=(2, 6, 6, 5)).astype(np.float32)
    layer = EqualizedConv2D(7, 3, seed=0)
    layer.build(images.shape)
    kernel, bias = layer.kernel.numpy(), rng.normal(size=7).astype(np.float32)
    layer.bias.assign(bias)
    out = layer(images).numpy()
    he = math.sqrt(2.0 / (3 * 3 * 5))
    expected = tf.nn.conv2d(images, kernel * he, 1, "SAME").numpy() + bias
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    # The stored weights are N(0, 1): the scale lives in the forward pass, not in the initialiser.
    big = EqualizedConv2D(64, 3, seed=0)
    big.build((None, 8, 8, 64))
    assert abs(float(np.std(big.kernel.numpy())) - 1.0) < 0.02


def test_equalized_dense_scales_by_gain_over_root_fan_in():
    rng = np.random.default_rng(2)
    vectors = rng.normal(size=(3, 10)).astype(np.float32)
    layer = EqualizedDense(4, gain=0.5, seed=0)
    out = layer(vectors).numpy()
    np.testing.assert_allclose(out, vectors @ (layer.kernel.numpy() * 0.5 / math.sqrt(10)), rtol=1e-5, atol=1e-6)


def test_pixel_norm_gives_each_pixel_unit_mean_square_over_features():
    features = np.random.default_rng(3).normal(scale=5.0, size=(2, 3, 3, 6)).astype(np.float32)
    out = PixelNorm()(features).numpy()
    np.testing.assert_allclose(np.mean(out**2, axis=-1), 1.0, rtol=1e-4)


def test_minibatch_stddev_appends_one_map_with_the_group_stddev():
    # Four constant samples; groups of two pair samples (0, 2) and (1, 3) as in the paper's implementation.
    values = np.array([0.0, 0.0, 2.0, 6.0], np.float32)
    batch = np.broadcast_to(values[:, None, None, None], (4, 2, 2, 3)).copy()
    out = MinibatchStddev(group_size=2)(batch).numpy()
    assert out.shape == (4, 2, 2, 4)
    np.testing.assert_array_equal(out[..., :3], batch)
    # Population stddev of (0, 2) is 1 and of (0, 6) is 3, the same at every position and feature.
    np.testing.assert_allclose(out[..., 3], np.broadcast_to(np.array([1.0, 3.0, 1.0, 3.0])[:, None, None], (4, 2, 2)))
    # One group over the whole batch: stddev of (0, 0, 2, 6) everywhere.
    whole = MinibatchStddev(group_size=4)(batch).numpy()[..., 3]
    np.testing.assert_allclose(whole, np.std(values), rtol=1e-5)


def test_fade_layer_is_the_old_input_at_zero_and_the_new_at_one():
    rng = np.random.default_rng(4)
    old, new = rng.normal(size=(2, 2, 4, 4, 3)).astype(np.float32)
    fade = Fade()
    np.testing.assert_array_equal(fade([old, new, np.zeros((2, 1), np.float32)]).numpy(), old)
    np.testing.assert_array_equal(fade([old, new, np.ones((2, 1), np.float32)]).numpy(), new)
    half = fade([old, new, np.full((2, 1), 0.5, np.float32)]).numpy()
    np.testing.assert_allclose(half, (old + new) / 2, rtol=1e-6)


def test_growing_generator_fades_from_the_upsampled_old_output_to_the_new_block():
    gan = ProGAN(tiny_config())
    latents = np.random.default_rng(5).normal(size=(3, 8)).astype(np.float32)
    zero, one = np.zeros((3, 1), np.float32), np.ones((3, 1), np.float32)
    old = gan.generators[4](latents).numpy()
    at_zero = gan.generators[8]([latents, zero]).numpy()
    np.testing.assert_allclose(at_zero, old.repeat(2, axis=1).repeat(2, axis=2), rtol=1e-5, atol=1e-6)
    at_one = gan.generators[8]([latents, one]).numpy()
    np.testing.assert_allclose(at_one, gan.sampler(8)(latents).numpy(), rtol=1e-5, atol=1e-6)
    assert not np.allclose(at_zero, at_one)


def test_growing_discriminator_fades_from_the_downsampled_old_path_to_the_new_block():
    gan = ProGAN(tiny_config())
    images = np.random.default_rng(6).uniform(-1, 1, size=(4, 8, 8, 3)).astype(np.float32)
    zero, one = np.zeros((4, 1), np.float32), np.ones((4, 1), np.float32)
    old = gan.discriminators[4](downsample(images, 2)).numpy()
    np.testing.assert_allclose(gan.discriminators[8]([images, zero]).numpy(), old, rtol=1e-5, atol=1e-5)
    # At alpha 1 the old input layer (4x4 from-RGB) no longer matters; at alpha 0 it does.
    before_one = gan.discriminators[8]([images, one]).numpy()
    before_zero = gan.discriminators[8]([images, zero]).numpy()
    old_input = gan.discriminator_blocks["from_rgb4"]
    old_input.set_weights([w + 1.0 for w in old_input.get_weights()])
    np.testing.assert_allclose(gan.discriminators[8]([images, one]).numpy(), before_one, rtol=1e-6)
    assert not np.allclose(gan.discriminators[8]([images, zero]).numpy(), before_zero)


def test_gradient_penalty_is_zero_for_a_unit_gradient_critic_and_positive_otherwise():
    rng = np.random.default_rng(7)
    real = tf.constant(rng.normal(size=(5, 4, 4, 3)), tf.float32)
    fake = tf.constant(rng.normal(size=(5, 4, 4, 3)), tf.float32)
    mix = tf.constant(rng.uniform(size=(5, 1, 1, 1)), tf.float32)
    direction = rng.normal(size=(4, 4, 3)).astype(np.float32)
    unit = tf.constant(direction / np.linalg.norm(direction))

    def linear_critic(weights: tf.Tensor) -> object:
        return lambda images: tf.reduce_sum(images * weights, axis=[1, 2, 3])[:, None]

    assert float(gradient_penalty(linear_critic(unit), real, fake, mix)) == pytest.approx(0.0, abs=1e-6)
    # Gradient norm 3 everywhere: penalty (3 - 1)^2 = 4.
    assert float(gradient_penalty(linear_critic(3.0 * unit), real, fake, mix)) == pytest.approx(4.0, rel=1e-5)


def test_schedule_grows_from_4x4_with_a_fade_in_before_each_stable_phase():
    config = tiny_config(
        resolution=16, channels=(8, 8, 4), fade_images=(5, 6), stable_images=(1, 2, 3), batch_sizes=(4,) * 3
    )
    names = [(phase.name, phase.images) for phase in schedule(config)]
    assert names == [
        ("4x4 stable", 1),
        ("8x8 fade-in", 5),
        ("8x8 stable", 2),
        ("16x16 fade-in", 6),
        ("16x16 stable", 3),
    ]


@pytest.mark.parametrize("padding", ["reflect", "zero"])
def test_exported_generator_is_built_in_keras_and_draws_the_averaged_generators_images(tmp_path, reals, padding):
    trainer = ProGANTrainer(ProGAN(tiny_config(padding=padding)), reals)
    trainer.train(progress=False)  # a trained average, so the check does not rest on the initial weights
    exported = export_generator(trainer.gan)
    assert {type(layer).__module__.split(".")[0] for layer in exported.layers} == {"keras"}
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in exported.layers)
    latents = np.random.default_rng(8).normal(size=(5, 8)).astype(np.float32)
    average = trainer.gan.sampler(average=True)(latents).numpy()
    assert not np.allclose(average, trainer.gan.sampler()(latents).numpy())  # the average, not the live weights
    path = tmp_path / "generator.keras"
    exported.save(path)
    np.testing.assert_allclose(images_in_plain_keras(path, latents, tmp_path), average, rtol=1e-5, atol=1e-5)


# --- training and resuming ----------------------------------------------------------------------------


class KilledError(Exception):
    """Stands for the process being killed right after a checkpoint was written."""


class KilledTrainer(ProGANTrainer):
    kill_at_step = 5

    def save(self) -> None:
        super().save()
        if self.state.step >= self.kill_at_step:
            raise KilledError


def weights_of(gan: ProGAN) -> list[np.ndarray]:
    layers = [*gan.generator_blocks.values(), *gan.average_blocks.values(), *gan.discriminator_blocks.values()]
    return [weight.copy() for layer in layers for weight in layer.get_weights()]


def test_training_runs_every_phase_and_records_losses(reals):
    config = tiny_config()
    trainer = ProGANTrainer(ProGAN(config), reals)
    trainer.train(progress=False)
    steps = sum(phase.steps for phase in schedule(config))
    assert trainer.state.step == steps == 12
    history = trainer.history.as_array()
    assert history.shape == (steps, 8)
    assert np.all(np.isfinite(history))
    assert list(history[:, 0]) == list(range(1, steps + 1))
    # Alpha climbs 0 -> 1 during the 8x8 fade-in (steps 5-8) and is 1 when stable.
    alphas = trainer.history.column("alpha")
    np.testing.assert_allclose(alphas[4:8], [0.0, 0.25, 0.5, 0.75])
    assert set(alphas[:4]) == set(alphas[8:]) == {1.0}
    assert set(trainer.growth) == {4, 8}
    assert trainer.growth[8].shape == (36, 8, 8, 3) and trainer.growth[8].dtype == np.uint8
    assert set(trainer.state.phase_seconds) == {"4x4 stable", "8x8 fade-in", "8x8 stable"}


@pytest.mark.parametrize("interval", [1, 3])
def test_lazy_penalty_is_applied_on_every_kth_critic_step_with_its_weight_times_k(reals, interval):
    # Without the drift term the critic loss is exactly -W + weight * penalty, so the weight can be read off.
    config = tiny_config(gp_interval=interval, gp_weight=10.0, drift_weight=0.0)
    trainer = ProGANTrainer(ProGAN(config), reals)
    trainer.train(progress=False)
    history = trainer.history
    penalty, d_loss, wasserstein = (history.column(name) for name in ("gradient_penalty", "d_loss", "wasserstein"))
    penalised = np.arange(len(penalty)) % interval == 0  # critic steps 0, k, 2k, ... of the whole run
    assert np.all(penalty[penalised] > 0) and np.all(penalty[~penalised] == 0)
    np.testing.assert_allclose(d_loss + wasserstein, 10.0 * interval * penalty, rtol=1e-4, atol=1e-6)


def test_xla_compiled_step_builds_and_trains_one_step(reals):
    # XLA draws other random numbers from the same stateless seeds, so the losses are not those of the plain step.
    trainer = ProGANTrainer(ProGAN(tiny_config(jit_compile=True)), reals)
    before = weights_of(trainer.gan)
    trainer.run_step(trainer.phases[0])
    assert np.all(np.isfinite(trainer.history.as_array()))
    changed = [not np.array_equal(old, new) for old, new in zip(before, weights_of(trainer.gan), strict=True)]
    assert any(changed)


def test_a_killed_run_resumes_from_its_checkpoint_not_from_scratch(tmp_path, reals):
    config = tiny_config()
    key = fingerprint({"test": 1}, ["a", "b"])
    killed = KilledTrainer(ProGAN(config), reals, Checkpoint(tmp_path / "ckpt", key), checkpoint_seconds=0.0)
    with pytest.raises(KilledError):
        killed.train(progress=False)
    assert killed.state.step == 5 and killed.state.phase_index == 1  # killed inside the 8x8 fade-in
    saved_weights = weights_of(killed.gan)

    fresh_gan = ProGAN(config)
    fresh_weights = weights_of(fresh_gan)
    resumed = ProGANTrainer(fresh_gan, reals, Checkpoint(tmp_path / "ckpt", key))
    assert resumed.resume()
    assert resumed.state.step == 5 and resumed.state.phase_step == 1 and resumed.state.optimizer_res == 8
    assert len(resumed.history.rows) == 5
    for got, saved in zip(weights_of(fresh_gan), saved_weights, strict=True):
        np.testing.assert_array_equal(got, saved)
    assert any(not np.array_equal(saved, fresh) for saved, fresh in zip(saved_weights, fresh_weights, strict=True))
    g_optimizer = resumed.optimizers[0]
    assert int(g_optimizer.iterations.numpy()) == int(killed.optimizers[0].iterations.numpy()) == 1

    resumed.train(progress=False)
    assert resumed.state.step == 12
    # Random draws are keyed by the step, so the resumed run ends where an uninterrupted one does.
    straight = ProGANTrainer(ProGAN(config), reals)
    straight.train(progress=False)
    for got, want in zip(weights_of(resumed.gan), weights_of(straight.gan), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_a_checkpoint_of_other_params_or_images_or_unreadable_is_not_resumed(tmp_path, reals, caplog):
    config = tiny_config()
    first = ProGANTrainer(ProGAN(config), reals, Checkpoint(tmp_path / "ckpt", fingerprint({"lr": 1}, ["x"])))
    first.train(progress=False)
    for other in (fingerprint({"lr": 2}, ["x"]), fingerprint({"lr": 1}, ["y"])):
        trainer = ProGANTrainer(ProGAN(config), reals, Checkpoint(tmp_path / "ckpt", other))
        with caplog.at_level(logging.INFO, logger="gandct.gan.trainer"):
            assert not trainer.resume()
        assert "starting fresh" in caplog.text
        assert trainer.state.step == 0
    caplog.clear()
    (tmp_path / "ckpt" / "arrays.npz").write_bytes(b"cut short by a crash")
    trainer = ProGANTrainer(ProGAN(config), reals, Checkpoint(tmp_path / "ckpt", fingerprint({"lr": 1}, ["x"])))
    with caplog.at_level(logging.INFO, logger="gandct.gan.trainer"):
        assert not trainer.resume()
    assert "unreadable" in caplog.text
