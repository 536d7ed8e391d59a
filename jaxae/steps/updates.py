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


def guarded_gradient_step(loss_fn, tx, params, opt_state, *, axis_name, skip_nonfinite: bool, scaling=None):
    """The gradient of `loss_fn` and one `guarded_update`: the one way every family's step updates
    parameters it differentiates (players that build their gradients themselves call `guarded_update`).

    Args:
      loss_fn: params -> (scalar loss, (metrics with 'loss', aux)).
      axis_name: the mapped device axis under `pmap` (gradients and metrics are averaged over it), or None.
      scaling: float16's loss-scaling state (the loss is multiplied by its scale before the gradient),
        or None without loss scaling.
    Returns:
      (params, opt_state, scaling, metrics, aux).
    """
    def scaled(params):
        loss, (metrics, aux) = loss_fn(params)
        return (loss * scaling["loss_scale"] if scaling else loss), (metrics, aux)

    (_, (metrics, aux)), grads = jax.value_and_grad(scaled, has_aux=True)(params)
    if axis_name is not None:
        grads, metrics = jax.lax.pmean((grads, metrics), axis_name)
    params, opt_state, scaling, metrics = guarded_update(tx, params, opt_state, grads, metrics, scaling or {},
                                                         loss_scaling_on=bool(scaling), skip_nonfinite=skip_nonfinite)
    return params, opt_state, scaling, metrics, aux
