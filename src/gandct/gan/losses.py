"""The GAN losses: WGAN-GP with the ProGAN's drift term, and the DCGAN's logistic losses."""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf


def gradient_penalty(
    critic: Callable[[tf.Tensor], tf.Tensor], real: tf.Tensor, fake: tf.Tensor, mix: tf.Tensor
) -> tf.Tensor:
    """WGAN-GP penalty (Gulrajani et al. 2017, section 4): mean over the batch of (||grad critic(x)|| - 1)^2
    at x = real + mix * (fake - real). `mix` has shape (batch, 1, 1, 1) with values in [0, 1]."""
    mixed = real + mix * (fake - real)
    with tf.GradientTape() as tape:
        tape.watch(mixed)
        scores = critic(mixed)
    # The gradient of the summed scores, as the paper's code takes it (minibatch stddev couples a group's rows).
    grads = tape.gradient(scores, mixed)
    norms = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]) + 1e-12)
    return tf.reduce_mean(tf.square(norms - 1.0))


def wgan_critic_loss(
    real_scores: tf.Tensor, fake_scores: tf.Tensor, penalty: tf.Tensor, gp_weight: float, drift_weight: float
) -> tuple[tf.Tensor, tf.Tensor]:
    """(critic loss, Wasserstein estimate): -W + gp_weight * penalty + drift_weight * mean(real_scores^2).

    The drift term (Karras et al. 2018, appendix A.1) keeps the scores of reals near zero.
    """
    wasserstein = tf.reduce_mean(real_scores) - tf.reduce_mean(fake_scores)
    drift = tf.reduce_mean(tf.square(real_scores))
    return -wasserstein + gp_weight * penalty + drift_weight * drift, wasserstein


def wgan_generator_loss(fake_scores: tf.Tensor) -> tf.Tensor:
    """The WGAN generator loss: minus the mean critic score of the fakes."""
    return -tf.reduce_mean(fake_scores)


def logistic_discriminator_loss(real_logits: tf.Tensor, fake_logits: tf.Tensor) -> tf.Tensor:
    """Binary cross-entropy of the discriminator's logits: reals as 1, fakes as 0 (Goodfellow et al. 2014)."""
    return tf.reduce_mean(tf.nn.softplus(-real_logits)) + tf.reduce_mean(tf.nn.softplus(fake_logits))


def non_saturating_generator_loss(fake_logits: tf.Tensor) -> tf.Tensor:
    """Maximise log D(G(z)) instead of minimising log(1 - D(G(z))) (Goodfellow et al. 2014, section 3)."""
    return tf.reduce_mean(tf.nn.softplus(-fake_logits))
