"""Adversarial losses (GAN family): the players' losses from the discriminator's logits, the R1
penalty's squared gradient norm, and InfoGAN's bounds on the mutual information of its codes."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxae.losses._shapes import check_batched, check_same_shape, sigmoid_cross_entropy, sum_per_example


# From the discriminator's logits l = D(x) (before the sigmoid). For a pair (real x_i, fake G(z_i)),
# "minimax" is Goodfellow et al.'s game: D minimises -log D(x) - log(1 - D(G(z))), G minimises
# log(1 - D(G(z))) as written (it saturates while D wins); "non_saturating" keeps D's loss and lets
# G minimise -log D(G(z)) instead; "least_squares" is LSGAN's (a, b, c) = (0, 1, 1); "hinge" that
# of SAGAN / BigGAN.


ADVERSARIAL_LOSSES = ("non_saturating", "minimax", "least_squares", "hinge")


def discriminator_loss(real_logits, fake_logits, *, kind: str, real_label: float = 1.0):
    """The discriminator's loss per (real, fake) pair.

    Args:
      real_logits, fake_logits: [batch] logits of real and generated examples.
      kind: one of `ADVERSARIAL_LOSSES`.
      real_label: the target for real examples (below 1 for one-sided label smoothing; the
        cross-entropy and least-squares kinds).
    Returns:
      [batch]: the real example's term plus the fake one's.
    """
    check_same_shape(real_logits, fake_logits, "discriminator_loss")
    if kind in ("non_saturating", "minimax"):
        return sigmoid_cross_entropy(real_logits, real_label) + sigmoid_cross_entropy(fake_logits, 0.0)
    if kind == "least_squares":
        return 0.5 * jnp.square(real_logits - real_label) + 0.5 * jnp.square(fake_logits)
    if kind == "hinge":
        return jax.nn.relu(1.0 - real_logits) + jax.nn.relu(1.0 + fake_logits)
    raise ValueError(f"discriminator_loss: kind {kind!r} is unknown; choose one of {ADVERSARIAL_LOSSES}")


def generator_loss(fake_logits, *, kind: str):
    """The generator's loss per generated example: [batch] logits -> [batch]."""
    check_batched(fake_logits, "generator_loss")
    if kind == "non_saturating":
        return sigmoid_cross_entropy(fake_logits, 1.0)  # -log D(G(z))
    if kind == "minimax":
        return -sigmoid_cross_entropy(fake_logits, 0.0)  # log(1 - D(G(z)))
    if kind == "least_squares":
        return 0.5 * jnp.square(fake_logits - 1.0)
    if kind == "hinge":
        return -fake_logits
    raise ValueError(f"generator_loss: kind {kind!r} is unknown; choose one of {ADVERSARIAL_LOSSES}")


def squared_gradient_norm(gradients):
    """|grad|^2 per example, e.g. the R1 penalty's ||grad_x D(x)||^2: [batch, ...] -> [batch]."""
    check_batched(gradients, "squared_gradient_norm")
    return sum_per_example(jnp.square(gradients.astype(jnp.float32)))


def categorical_information(code_logits, codes):
    """InfoGAN's variational lower bound on I(c; G(z, c)) for a uniform categorical code, per example.

    log Q(c | x) + H(c), with H(c) = log K: at most log K, reached when Q recovers the code.

    Args:
      code_logits: [batch, K] Q's logits for the code of each generated example.
      codes: [batch] int, the codes the examples were generated from.
    """
    check_batched(code_logits, "categorical_information")
    log_q = jax.nn.log_softmax(code_logits.astype(jnp.float32), axis=-1)
    return jnp.take_along_axis(log_q, codes[:, None].astype(jnp.int32), axis=-1)[:, 0] + jnp.log(code_logits.shape[-1])


def uniform_code_information(means, codes, *, low: float = -1.0, high: float = 1.0):
    """The same bound for continuous codes drawn from U(low, high), Q a unit-variance Gaussian
    (InfoGAN's reference code fixes its standard deviation): per example, summed over the codes,
    log N(c; mean, 1) + log(high - low).

    Args:
      means: [batch, J] Q's means; codes: [batch, J] the codes drawn.
    """
    check_same_shape(means, codes, "uniform_code_information")
    log_q = -0.5 * jnp.log(2 * jnp.pi) - 0.5 * jnp.square(codes - means.astype(jnp.float32))
    return sum_per_example(log_q + jnp.log(high - low))
