"""Input corruptions for denoising autoencoders: pure functions of (key, x)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def gaussian_noise(key, x, *, stddev: float):
    """x + N(0, stddev**2) noise, clipped to [0, 1]. x: [batch, ...] -> same shape."""
    return jnp.clip(x + stddev * jax.random.normal(key, x.shape, x.dtype), 0.0, 1.0)


def masking_noise(key, x, *, rate: float):
    """Sets each element to 0 with probability `rate`. x: [batch, ...] -> same shape."""
    keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
    return jnp.where(keep, x, jnp.zeros_like(x))


def salt_and_pepper(key, x, *, rate: float):
    """Sets each element, with probability `rate`, to 0 or 1 (equally likely). x: [batch, ...]."""
    hit_key, value_key = jax.random.split(key)
    hit = jax.random.bernoulli(hit_key, rate, x.shape)
    salt = jax.random.bernoulli(value_key, 0.5, x.shape).astype(x.dtype)
    return jnp.where(hit, salt, x)


CORRUPTIONS = {"gaussian": ("stddev", gaussian_noise), "masking": ("rate", masking_noise),
               "salt_and_pepper": ("rate", salt_and_pepper)}


def corrupt(key, x, *, kind: str, level: float):
    """Applies the corruption `kind` ('none', 'gaussian', 'masking', 'salt_and_pepper') at `level`."""
    if kind == "none":
        return x
    argument, function = CORRUPTIONS[kind]
    return function(key, x, **{argument: level})
