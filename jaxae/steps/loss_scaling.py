"""Dynamic loss scaling for float16 compute: scale up the loss so small gradients survive float16,
halve the scale and skip the update when gradients overflow, double it after a run of good steps.

The scale and the count of good steps live in ``TrainState.extra`` so a resume is exact.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

INITIAL_SCALE = 2.0**15
GROWTH_INTERVAL = 2000  # Good steps before the scale doubles.
MIN_SCALE = 1.0


def initial_state() -> dict:
    return {"loss_scale": jnp.asarray(INITIAL_SCALE, jnp.float32), "good_steps": jnp.zeros((), jnp.int32)}


def all_finite(tree) -> jax.Array:
    """True when every element of every leaf is finite."""
    return jnp.all(jnp.asarray([jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(tree)]))


def unscale(grads, scaling: dict):
    """Gradients of the scaled loss -> true gradients (float32)."""
    return jax.tree.map(lambda g: g.astype(jnp.float32) / scaling["loss_scale"], grads)


def update(scaling: dict, finite) -> dict:
    """Halves the scale after an overflow; doubles it after GROWTH_INTERVAL finite steps in a row."""
    good = jnp.where(finite, scaling["good_steps"] + 1, 0)
    grow = good >= GROWTH_INTERVAL
    scale = jnp.where(finite, jnp.where(grow, scaling["loss_scale"] * 2, scaling["loss_scale"]),
                      jnp.maximum(scaling["loss_scale"] / 2, MIN_SCALE))
    return {"loss_scale": scale, "good_steps": jnp.where(grow, 0, good)}
