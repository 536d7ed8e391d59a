"""The variational autoencoder's prior term: the Gaussian KL in closed form, per example."""

from __future__ import annotations

import jax.numpy as jnp

from jaxae.losses._shapes import check_batched, check_same_shape, sum_per_example


def gaussian_kl(mu, logvar):
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) in nats per example, in closed form.

    Args:
      mu, logvar: [batch, latent].
    Returns:
      [batch]: 0.5 * sum(exp(logvar) + mu**2 - 1 - logvar).
    """
    check_same_shape(mu, logvar, "gaussian_kl")
    check_batched(mu, "gaussian_kl")
    return 0.5 * sum_per_example(jnp.exp(logvar) + jnp.square(mu) - 1.0 - logvar)
