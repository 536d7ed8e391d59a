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
    keep = lambda new, old: jax.tree.map(lambda n, o: jnp.where(finite, n, o), new, old)
    new_params, new_opt_state = keep(new_params, params), keep(new_opt_state, opt_state)
    metrics = {name: jnp.where(finite, value, 0.0) for name, value in metrics.items()}
    metrics["skipped"] = 1.0 - finite.astype(jnp.float32)
    if loss_scaling_on:
        metrics["loss_scale"] = scaling["loss_scale"]
        scaling = {**scaling, **loss_scaling.update(scaling, finite)}
    return new_params, new_opt_state, scaling, metrics
