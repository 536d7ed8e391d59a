"""Per-example random streams, so a random draw does not depend on how the batch is split.

A draw for example ``i`` of a global batch uses ``fold_in(key, i)``. Under sharded `jit` the
trainer sees the global batch (offset 0); under `pmap` each device sees its slice and passes its
offset. Either way every example gets the same noise, so 1 device, 8 devices, `jit` and `pmap`
train identically, up to the order of float reductions.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

# Train steps fold their step number into the run's key; these values lie beyond any step count,
# so eval draws (per example, by index) and the pictures' draws never reuse a training draw.
EVAL_STREAM = 2**32 - 1
IMAGES_STREAM = 2**32 - 2


def keys_for(key, indices):
    """[n] keys, one per integer in `indices` [n]: fold_in(key, index)."""
    return jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, jnp.asarray(indices).astype(jnp.uint32))


def example_keys(key, batch_size: int, offset=0):
    """[batch_size] keys, one per example: fold_in(key, offset + i)."""
    return keys_for(key, offset + jnp.arange(batch_size, dtype=jnp.uint32))


def split_streams(keys, streams: int):
    """[batch] keys -> `streams` arrays of [batch] keys, independent of each other."""
    split = jax.vmap(lambda k: jax.random.split(k, streams))(keys)
    return [split[:, i] for i in range(streams)]


def per_example(draw, keys, *arrays):
    """Maps `draw(key, *example_arrays)` over examples. keys: [batch]; arrays: [batch, ...]."""
    return jax.vmap(draw)(keys, *arrays)


def batch_offset(batch_size: int, axis_name: str | None):
    """Index of this shard's first example in the global batch: 0 under `jit`, device * size under `pmap`."""
    if axis_name is None:
        return 0
    return jax.lax.axis_index(axis_name).astype(jnp.uint32) * batch_size


def normal_per_example(keys, shape, dtype=jnp.float32):
    """[batch, *shape] standard normal draws, example i from keys[i]."""
    return jax.vmap(lambda k: jax.random.normal(k, shape, dtype))(keys)
