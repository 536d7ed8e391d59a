"""A diagonal Gaussian mixture over codes, in log space: log-densities, responsibilities, and VaDE's
KL term. Pure functions of arrays; the mixture is a dict of arrays

  {'logits': [k] (weights pi = softmax(logits)), 'means': [k, d], 'log_vars': [k, d]}.

Responsibilities are normalised with `logsumexp`: computed as products of densities in
probability space they underflow to 0/0 for codes far from every component, the known failure of
VaDE re-implementations (uniform responsibilities, ACC 0.11).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp


def component_log_densities(z, mixture):
    """log pi_c + log N(z; mu_c, diag(var_c)) for every code and component: z [n, d] -> [n, k]."""
    means, log_vars = mixture["means"], mixture["log_vars"]
    squared = (z[:, None, :] - means[None]) ** 2 / jnp.exp(log_vars)[None]  # [n, k, d]
    log_normal = -0.5 * jnp.sum(squared + log_vars[None] + math.log(2 * math.pi), axis=-1)
    return jax.nn.log_softmax(mixture["logits"])[None] + log_normal


def log_responsibilities(z, mixture):
    """log p(c | z) [n, k], each row's exponentials summing to one, finite for any finite z."""
    return jax.nn.log_softmax(component_log_densities(z, mixture), axis=-1)


def log_likelihood(z, mixture):
    """log p(z) under the mixture, [n]."""
    return jax.nn.logsumexp(component_log_densities(z, mixture), axis=-1)


def vade_kl(z, mu, logvar, mixture):
    """KL(q(z, c | x) || p(z, c)) per example [n] for VaDE (Jiang et al., 2017, eq. 12 without the
    likelihood), with q(c | x) taken as the responsibilities p(c | z) of the sampled code.

    Args:
      z: [n, d] a sample of q(z | x) = N(mu, diag(exp(logvar))); mu, logvar: [n, d].
    """
    log_gamma = log_responsibilities(z, mixture)  # [n, k]
    gamma = jnp.exp(log_gamma)
    means, log_vars = mixture["means"], mixture["log_vars"]
    # E_q[-log p(z | c)] per component, up to the log(2 pi) terms that cancel with q's entropy.
    cross = 0.5 * jnp.sum(log_vars[None] + (jnp.exp(logvar)[:, None] + (mu[:, None] - means[None]) ** 2)
                          / jnp.exp(log_vars)[None], axis=-1)  # [n, k]
    log_pi = jax.nn.log_softmax(mixture["logits"])
    return (jnp.sum(gamma * (cross - log_pi[None] + log_gamma), axis=-1)
            - 0.5 * jnp.sum(1.0 + logvar, axis=-1))
