"""One optimizer update with the non-finite guard and float16 loss scaling, for any family's step
(one call per optimizer the step updates)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from jaxae.steps import loss_scaling


def guarded_update(tx, params, opt_state, grads, metrics: dict, scaling: dict, *, loss_scaling_on: bool,
                   skip_nonfinite: bool):
    """Applies `grads` through `tx`; with `skip_nonfinite` (or loss scaling) a non-finite step is skipped.

    Args:
      grads: gradients of the loss times the loss scale (times 1 without loss scaling).
      metrics: the step's scalar metrics, including 'loss'; 'grad_norm' is added.
      scaling: the loss-scaling state (`loss_scaling.initial_state()`), or {} when it is off.
    Returns:
      (params, opt_state, scaling, metrics). A skipped step keeps the parameters and optimizer
      state, zeroes its metrics (the loop leaves them out of the window's means) and sets
      'skipped' to 1; an overflow under loss scaling also halves the scale.
    """
    if loss_scaling_on:
        grads = loss_scaling.unscale(grads, scaling)
    updates, new_opt_state = tx.update(grads, opt_state, params)
    new_params = optax.apply_updates(params, updates)
    metrics = {**metrics, "grad_norm": optax.global_norm(grads)}
    if not (loss_scaling_on or skip_nonfinite):
        return new_params, new_opt_state, scaling, metrics
    # The norm too: finite gradients whose squares overflow make a useless update.
    finite = loss_scaling.all_finite(grads) & jnp.isfinite(metrics["loss"]) & jnp.isfinite(metrics["grad_norm"])
    (new_params, new_opt_state), metrics = skip_unless_finite(finite, (new_params, new_opt_state),
                                                              (params, opt_state), metrics)
    if loss_scaling_on:
        metrics["loss_scale"] = scaling["loss_scale"]
        scaling = {**scaling, **loss_scaling.update(scaling, finite)}
    return new_params, new_opt_state, scaling, metrics


def skip_unless_finite(finite, new, old, metrics: dict):
    """The one skip rule of every family's step: where `finite` is false the step keeps `old` (any
    pytree: parameters, optimizer state, tables), zeroes its metrics (the loop leaves a skipped step
    out of the window's means) and sets 'skipped' to 1.

    Args:
      finite: a bool scalar, whether the step's loss (and gradients) are finite.
      new, old: pytrees of the same structure, the step's result and what it started from.
      metrics: the step's scalar metrics.
    Returns:
      (new where finite else old, metrics with 'skipped').
    """
    kept = jax.tree.map(lambda n, o: jnp.where(finite, n, o), new, old)
    metrics = {name: jnp.where(finite, value, 0.0) for name, value in metrics.items()}
    metrics["skipped"] = 1.0 - finite.astype(jnp.float32)
    return kept, metrics
