"""On-device input transforms, run inside the jitted step: normalisation and binarisation.

Batches travel as the data set's own dtype (uint8 for images: 4x fewer bytes than float32 to
copy to the device) and become model inputs here, so the streaming and the device-resident paths
feed the step the very same arrays.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

BINARIZATIONS = ("none", "static", "dynamic")


def to_unit_interval(images):
    """uint8 [..] in [0, 255] -> float32 in [0, 1]; floating images are taken as already in [0, 1]."""
    if images.dtype == jnp.uint8:
        return images.astype(jnp.float32) / 255.0
    return images.astype(jnp.float32)


def random_shift(key, image, *, max_shift: int):
    """image [H, W, C] moved by a uniform whole-pixel offset in [-max_shift, max_shift] along each
    axis, the uncovered border filled with 0 (the background of digits): an augmentation."""
    if max_shift == 0:
        return image
    height, width, channels = image.shape
    padded = jnp.pad(image, ((max_shift, max_shift), (max_shift, max_shift), (0, 0)))
    offsets = jax.random.randint(key, (2,), 0, 2 * max_shift + 1)
    return jax.lax.dynamic_slice(padded, (offsets[0], offsets[1], 0), (height, width, channels))


def binarize(key, x, *, mode: str, threshold: float = 0.5):
    """Binarises grey levels x in [0, 1].

    'static': x > threshold, the same every epoch; 'dynamic': a fresh Bernoulli(x) draw from
    `key` (Salakhutdinov & Murray's binarised MNIST); 'none': x unchanged.
    """
    if mode == "none":
        return x
    if mode == "static":
        return (x > threshold).astype(x.dtype)
    if mode == "dynamic":
        return jax.random.bernoulli(key, x).astype(x.dtype)
    raise ValueError(f"binarize: mode must be one of {BINARIZATIONS}, got {mode!r}")
