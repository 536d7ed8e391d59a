"""Pictures of a code space, as pure functions of a decoder: interpolations between the codes of
two inputs, and traversals of one code dimension at a time. Both run under `jit` (the evaluator's
pictures) and on the host (`python -m jaxae.plot`)."""

from __future__ import annotations

import jax.numpy as jnp


def interpolations(decode, codes, steps: int = 8):
    """Decoded straight lines between pairs of codes.

    decode: codes [m, latent] -> images [m, H, W, C]. codes: [n, latent]; rows (0, 1), (2, 3), ...
    are paired (n >= 2). Returns [n // 2, steps, H, W, C]: row r goes from codes[2r] to codes[2r + 1].
    """
    pairs = codes.shape[0] // 2
    start, end = codes[0:2 * pairs:2], codes[1:2 * pairs:2]  # [pairs, latent] each
    weights = jnp.linspace(0.0, 1.0, steps)[None, :, None]
    line = (1 - weights) * start[:, None] + weights * end[:, None]  # [pairs, steps, latent]
    images = decode(line.reshape(pairs * steps, -1))
    return images.reshape(pairs, steps, *images.shape[1:])


def traversals(decode, base, *, dimensions: int = 10, steps: int = 8, reach: float = 3.0):
    """One code dimension at a time moved over [-reach, reach] (a prior's +-3 standard deviations),
    the others kept at `base`.

    base: [latent] a code. Returns [min(dimensions, latent), steps, H, W, C]: row d varies dimension d.
    """
    count = min(dimensions, base.shape[0])
    values = jnp.linspace(-reach, reach, steps)
    codes = jnp.broadcast_to(base, (count, steps, base.shape[0]))
    codes = codes.at[jnp.arange(count)[:, None], jnp.arange(steps)[None, :], jnp.arange(count)[:, None]].set(values)
    images = decode(codes.reshape(count * steps, -1))
    return images.reshape(count, steps, *images.shape[1:])
