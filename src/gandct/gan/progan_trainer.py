"""The training of a Progressive GAN (Karras et al. 2018): its growth schedule and WGAN-GP steps.

The paper's training stabilisers are all here: the WGAN-GP loss with the small drift term, Adam with
beta1 = 0 and beta2 = 0.99 (reset whenever the networks grow), an exponential moving average of the
generator's weights for sampling, and real images blended between two resolutions during a fade-in exactly
as the discriminator sees the fakes. The networks are `gandct.gan.progan`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from gandct.gan.losses import gradient_penalty, wgan_critic_loss, wgan_generator_loss
from gandct.gan.pixels import to_uint8
from gandct.gan.progan import BASE_RESOLUTION, ProGAN, ProGANConfig, resolutions
from gandct.gan.trainer import (
    Checkpoint,
    Phase,
    ResumableTrainer,
    TrainingState,
    layer_arrays,
    optimizer_arrays,
    restore_layers,
    restore_optimizer,
)


@dataclass(frozen=True)
class GrowthPhase(Phase):
    """A phase at one resolution: fading the new block in, or stable."""

    res: int = BASE_RESOLUTION
    fading: bool = False


def schedule(config: ProGANConfig) -> list[GrowthPhase]:
    """4x4 stable, then for each larger resolution a fade-in and a stable phase."""
    phases = []
    for index, res in enumerate(resolutions(config.resolution)):
        batch = config.batch_sizes[index]
        if index:
            phases.append(GrowthPhase(f"{res}x{res} fade-in", config.fade_images[index - 1], batch, res, True))
        phases.append(GrowthPhase(f"{res}x{res} stable", config.stable_images[index], batch, res, False))
    return phases


LOSS_COLUMNS = ("step", "images", "resolution", "alpha", "d_loss", "g_loss", "gradient_penalty", "wasserstein")


@dataclass
class ProGANState(TrainingState):
    optimizer_res: int = 0  # resolution the current optimizers were built for (0: none yet)


def ema_update(pairs: Sequence[tuple[tf.Variable, tf.Variable]], beta: tf.Tensor) -> None:
    """Move each average towards its live variable: average <- beta * average + (1 - beta) * live."""
    for average, live in pairs:
        average.assign(beta * average + (1.0 - beta) * live)


def _real_minibatch(reals: tf.Tensor, batch: int, seed: tf.Tensor, alpha: tf.Tensor, grows: bool) -> tf.Tensor:
    """`batch` reals drawn with `seed`; above 4x4 (`grows`) blended by `alpha` with their half-resolution version."""
    index = tf.random.stateless_uniform((batch,), seed, maxval=tf.shape(reals)[0], dtype=tf.int32)
    real = tf.gather(reals, index)
    if grows:  # the reals fade in like the fakes: blended with their half-resolution version
        coarse = tf.repeat(tf.repeat(tf.nn.avg_pool2d(real, 2, 2, "VALID"), 2, axis=1), 2, axis=2)
        real = coarse + alpha * (real - coarse)
    return real


@dataclass(frozen=True)
class _ResolutionTraining:
    """How one resolution trains: its generator and discriminator training graphs (taking alpha as a second
    input above 4x4, where they `grow`), their optimizers, and the weights of the critic's loss terms."""

    generator: keras.Model
    discriminator: keras.Model
    g_optimizer: keras.optimizers.Optimizer
    d_optimizer: keras.optimizers.Optimizer
    grows: bool
    penalised: bool  # whether the critic's loss carries the gradient penalty
    gp_weight: float
    drift_weight: float

    def generate(self, latents: tf.Tensor, alphas: tf.Tensor) -> tf.Tensor:
        if self.grows:
            return self.generator([latents, alphas], training=True)
        return self.generator(latents, training=True)

    def judge(self, images: tf.Tensor, alphas: tf.Tensor) -> tf.Tensor:
        if self.grows:
            return self.discriminator([images, alphas], training=True)
        return self.discriminator(images, training=True)

    def critic_update(
        self, real: tf.Tensor, fake: tf.Tensor, alphas: tf.Tensor, mix: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """One discriminator step on `real` and `fake`: (loss, gradient penalty, Wasserstein estimate)."""
        with tf.GradientTape() as tape:
            real_scores = self.judge(real, alphas)
            fake_scores = self.judge(fake, alphas)
            if self.penalised:
                penalty = gradient_penalty(lambda x: self.judge(x, alphas), real, fake, mix)
            else:
                penalty = tf.zeros(())
            d_loss, wasserstein = wgan_critic_loss(real_scores, fake_scores, penalty, self.gp_weight, self.drift_weight)
        variables = self.discriminator.trainable_variables
        self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, variables), variables, strict=True))
        return d_loss, penalty, wasserstein

    def generator_update(self, latents: tf.Tensor, alphas: tf.Tensor) -> tf.Tensor:
        """One generator step on the fakes of `latents`: its loss."""
        with tf.GradientTape() as tape:
            g_loss = wgan_generator_loss(self.judge(self.generate(latents, alphas), alphas))
        variables = self.generator.trainable_variables
        self.g_optimizer.apply_gradients(zip(tape.gradient(g_loss, variables), variables, strict=True))
        return g_loss


class ProGANTrainer(ResumableTrainer):
    """Train a ProGAN on real images: WGAN-GP steps through the growth schedule, with a weight average.

    Random draws (minibatch, latents, penalty mixes) come from stateless generators keyed by the seed and
    the step number, so a resumed run draws what the uninterrupted one would have drawn.
    """

    loss_columns = LOSS_COLUMNS
    shown = ("alpha", "d_loss", "g_loss")
    state_type = ProGANState
    state: ProGANState

    def __init__(
        self,
        gan: ProGAN,
        reals: np.ndarray,
        checkpoint: Checkpoint | None = None,
        checkpoint_seconds: float = 60.0,
        grid_size: int = 6,
    ) -> None:
        """`reals`: float32 images in [-1, 1] of shape (count, resolution, resolution, 3)."""
        super().__init__("progan", schedule(gan.config), checkpoint, checkpoint_seconds)
        self.gan = gan
        self.config = gan.config
        expected = (self.config.resolution, self.config.resolution, 3)
        if reals.ndim != 4 or reals.shape[1:] != expected:
            raise ValueError(f"reals must have shape (count, {expected}), got {reals.shape}")
        self.pyramid = {res: tf.constant(downsample(reals, self.config.resolution // res)) for res in gan.resolutions}
        self.grid_latents = tf.random.stateless_normal(
            (grid_size * grid_size, self.config.latent_size), seed=(self.config.seed, 1 << 20)
        )
        self.growth: dict[int, np.ndarray] = {}  # sample images from the averaged generator after each resolution
        self.optimizers: tuple[keras.optimizers.Optimizer, keras.optimizers.Optimizer] | None = None
        self._step_functions: dict[tuple[int, bool], Callable] = {}

    # checkpoint ------------------------------------------------------------------------------------

    def checkpoint_arrays(self) -> dict[str, np.ndarray]:
        arrays = {
            **layer_arrays("g", self.gan.generator_blocks.values()),
            **layer_arrays("g_avg", self.gan.average_blocks.values()),
            **layer_arrays("d", self.gan.discriminator_blocks.values()),
            **{f"growth/{res}": grid for res, grid in self.growth.items()},
        }
        if self.optimizers is not None:
            arrays.update(optimizer_arrays("g_opt", self.optimizers[0]))
            arrays.update(optimizer_arrays("d_opt", self.optimizers[1]))
        return arrays

    def prepare_resume(self, state: ProGANState) -> None:
        if state.optimizer_res:  # the saved optimizer slots fit optimizers built for that resolution
            self._new_optimizers(state.optimizer_res)

    def restore_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        restore_layers("g", self.gan.generator_blocks.values(), arrays)
        restore_layers("g_avg", self.gan.average_blocks.values(), arrays)
        restore_layers("d", self.gan.discriminator_blocks.values(), arrays)
        if self.optimizers is not None:
            restore_optimizer("g_opt", self.optimizers[0], arrays)
            restore_optimizer("d_opt", self.optimizers[1], arrays)
        self.growth = {int(name.split("/")[1]): arrays[name] for name in arrays if name.startswith("growth/")}

    # training --------------------------------------------------------------------------------------

    def _new_optimizers(self, res: int) -> None:
        """Fresh Adam states for a new resolution, as the paper resets them when the networks grow."""
        self.optimizers = tuple(
            keras.optimizers.Adam(self.config.learning_rate, beta_1=0.0, beta_2=0.99, epsilon=1e-8) for _ in range(2)
        )
        self.optimizers[0].build(self.gan.generators[res].trainable_variables)
        self.optimizers[1].build(self.gan.discriminators[res].trainable_variables)
        for penalised in (False, True):
            self._step_functions.pop((res, penalised), None)

    def penalised(self, step: int) -> bool:
        """Whether the critic step `step` (0-based, counted over the whole run) carries the gradient penalty."""
        return step % self.config.gp_interval == 0

    def _average_pairs(self, generator: keras.Model) -> list[tuple[tf.Variable, tf.Variable]]:
        """Each weight of the moving-average blocks beside the live weight of `generator`'s block it follows."""
        return [
            (average, live)
            for block in generator.layers
            if block.weights
            for average, live in zip(self.gan.average_blocks[block.name].weights, block.weights, strict=True)
        ]

    def _build_step(self, res: int, penalised: bool) -> Callable:
        """The training step at `res`, with the gradient penalty (weighted x gp_interval) or without it."""
        config = self.config
        g_optimizer, d_optimizer = self.optimizers
        training = _ResolutionTraining(
            self.gan.generators[res],
            self.gan.discriminators[res],
            g_optimizer,
            d_optimizer,
            grows=res > BASE_RESOLUTION,
            penalised=penalised,
            gp_weight=config.gp_weight * config.gp_interval if penalised else 0.0,
            drift_weight=config.drift_weight,
        )
        pairs = self._average_pairs(training.generator)
        batch = config.batch_sizes[self.gan.resolutions.index(res)]

        @tf.function(autograph=False, jit_compile=config.jit_compile)
        def train_step(reals: tf.Tensor, step: tf.Tensor, alpha: tf.Tensor) -> tuple[tf.Tensor, ...]:
            def seed(salt: int) -> tf.Tensor:
                return tf.stack([tf.constant(config.seed, tf.int64), step * 4 + salt])

            alphas = tf.fill((batch, 1), alpha)
            real = _real_minibatch(reals, batch, seed(0), alpha, training.grows)
            latents = tf.random.stateless_normal((batch, config.latent_size), seed(1))
            mix = tf.random.stateless_uniform((batch, 1, 1, 1), seed(2))
            d_loss, penalty, wasserstein = training.critic_update(real, training.generate(latents, alphas), alphas, mix)
            g_loss = training.generator_update(tf.random.stateless_normal((batch, config.latent_size), seed(3)), alphas)
            # The average follows closely at first, so early samples are not dominated by the initial weights.
            step_float = tf.cast(step, tf.float32)
            ema_update(pairs, tf.minimum(config.ema_beta, (1.0 + step_float) / (10.0 + step_float)))
            return d_loss, g_loss, penalty, wasserstein

        return train_step

    def train_step(self, phase: GrowthPhase) -> dict[str, float]:
        if self.state.optimizer_res != phase.res:
            self._new_optimizers(phase.res)
            self.state.optimizer_res = phase.res
        key = (phase.res, self.penalised(self.state.step))
        if key not in self._step_functions:
            self._step_functions[key] = self._build_step(*key)
        alpha = self.state.phase_step / phase.steps if phase.fading else 1.0
        step = tf.constant(self.state.step, tf.int64)
        losses = self._step_functions[key](self.pyramid[phase.res], step, tf.constant(alpha, tf.float32))
        d_loss, g_loss, penalty, wasserstein = (float(value) for value in losses)
        return {
            "resolution": phase.res,
            "alpha": alpha,
            "d_loss": d_loss,
            "g_loss": g_loss,
            "gradient_penalty": penalty,
            "wasserstein": wasserstein,
        }

    def end_phase(self, phase: GrowthPhase) -> None:
        if not phase.fading:
            self.growth[phase.res] = self.sample_grid(phase.res)

    def sample_grid(self, res: int) -> np.ndarray:
        """uint8 images of the averaged generator at `res` for the fixed grid latents."""
        return to_uint8(self.gan.sampler(res, average=True)(self.grid_latents, training=False).numpy())


def downsample(images: np.ndarray, factor: int) -> np.ndarray:
    """Box-filter down-sampling by an integer factor (how the paper makes its low-resolution reals)."""
    if factor == 1:
        return images
    count, height, width, channels = images.shape
    blocks = images.reshape(count, height // factor, factor, width // factor, factor, channels)
    return blocks.mean(axis=(2, 4), dtype=np.float32)
