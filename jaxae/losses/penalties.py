"""Penalties: L1 / L2 on the weights, L1 activity and KL sparsity of the code (sparse autoencoders)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxae.losses._shapes import check_batched, sum_per_example


def _kernels(params):
    """The weight matrices and convolution kernels of a Flax parameter tree (biases excluded)."""
    leaves = jax.tree_util.tree_flatten_with_path(params)[0]
    return [leaf for path, leaf in leaves if getattr(path[-1], "key", None) == "kernel"]


def l1_penalty(params):
    """Sum of |w| over every 'kernel' leaf of a parameter tree (biases are not penalised). -> scalar."""
    return sum((jnp.sum(jnp.abs(k)) for k in _kernels(params)), jnp.zeros((), jnp.float32))


def l2_penalty(params):
    """Half the sum of w**2 over every 'kernel' leaf (weight decay's penalty). -> scalar."""
    return sum((0.5 * jnp.sum(jnp.square(k)) for k in _kernels(params)), jnp.zeros((), jnp.float32))


def l1_activity(codes):
    """L1 activity sparsity per example: [batch, latent] -> [batch], sum of |z|."""
    check_batched(codes, "l1_activity")
    return sum_per_example(jnp.abs(codes))


def kl_sparsity(mean_activation, *, target: float, eps: float = 1e-6):
    """KL(Bernoulli(target) || Bernoulli(rho_hat)) per hidden unit (Ng's sparse autoencoder).

    The sparsity target constrains each unit's average activation over a batch, so this takes
    that average rather than single examples.

    Args:
      mean_activation: [units], each unit's mean activation over the batch, in (0, 1).
      target: the desired mean activation rho, in (0, 1).
      eps: keeps the logarithms finite when an average reaches 0 or 1.
    Returns:
      [units]: rho log(rho / rho_hat) + (1 - rho) log((1 - rho) / (1 - rho_hat)).
    """
    if not 0.0 < target < 1.0:
        raise ValueError(f"kl_sparsity: target must lie in (0, 1), got {target}")
    rho_hat = jnp.clip(mean_activation, eps, 1.0 - eps)
    return target * jnp.log(target / rho_hat) + (1 - target) * jnp.log((1 - target) / (1 - rho_hat))
