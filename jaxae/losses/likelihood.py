"""Importance-weighted log-likelihood of a VAE (Burda et al., 2016), per example.

For posterior draws z_k = mu + sigma eps_k, k = 1..K, the log weights are

    log w_k = log p(x | z_k) + log N(z_k; 0, I) - log N(z_k; mu, sigma^2)

and log p(x) >= log (1/K) sum_k w_k, a bound that tightens as K grows (K = 1 is the ELBO). With
K = 1000 or more it is the usual estimate of a VAE's test log-likelihood. The K draws are taken in
chunks of `chunk` inside a `lax.scan` with a running log-sum-exp, so memory holds one chunk's
decoder outputs, [chunk, batch, H, W, C], whatever K is. The data must be binary for this to be
a likelihood (a Bernoulli decoder's "likelihood" of grey levels is not normalised).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

LOG_2PI = math.log(2 * math.pi)


def log_weights(decode_nll, mu, logvar, eps, *, beta=1.0):
    """[K, batch] log importance weights of draws eps [K, batch, latent] around mu, logvar [batch, latent].

    decode_nll: codes [batch, latent] -> [batch] the decoder's negative log-likelihood of the data.
    beta: the weight of log prior - log posterior (1: the true weights; below 1 for a KL warm-up).
    """
    z = mu + jnp.exp(0.5 * logvar) * eps
    log_prior = -0.5 * jnp.sum(jnp.square(z) + LOG_2PI, axis=-1)
    log_posterior = -0.5 * jnp.sum(jnp.square(eps) + LOG_2PI + logvar, axis=-1)
    return -jax.vmap(decode_nll)(z) + beta * (log_prior - log_posterior)


def iw_log_likelihood(decode_nll, mu, logvar, key_of_example, *, samples: int, chunk: int = 100):
    """[batch] the K-sample importance-weighted bound on log p(x), K = `samples`.

    key_of_example: [batch] keys, one per example; its draws depend on its key alone, so the
    estimate does not depend on the batch it is in. chunk: draws per scan step; the last step's
    draws beyond K are left out of the sum.
    """
    if samples < 1 or chunk < 1:
        raise ValueError(f"samples={samples} and chunk={chunk} must be positive")
    chunk = min(chunk, samples)
    steps, latent = -(-samples // chunk), mu.shape[-1]

    def body(carry, index):
        running_max, running_sum = carry
        keys = jax.vmap(lambda key: jax.random.fold_in(key, index))(key_of_example)
        eps = jax.vmap(lambda key: jax.random.normal(key, (chunk, latent)))(keys)  # [batch, chunk, latent]
        weights = log_weights(decode_nll, mu, logvar, jnp.swapaxes(eps, 0, 1))  # [chunk, batch]
        drawn = (index * chunk + jnp.arange(chunk) < samples)[:, None]
        weights = jnp.where(drawn, weights, -jnp.inf)
        new_max = jnp.maximum(running_max, jnp.max(weights, axis=0))
        running_sum = running_sum * jnp.exp(running_max - new_max) + jnp.sum(jnp.exp(weights - new_max), axis=0)
        return (new_max, running_sum), None

    start = (jnp.full(mu.shape[:1], -jnp.inf, jnp.float32), jnp.zeros(mu.shape[:1], jnp.float32))
    (top, total), _ = jax.lax.scan(body, start, jnp.arange(steps))
    return top + jnp.log(total) - math.log(samples)
