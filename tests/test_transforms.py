"""The shift augmentation against NumPy: each image moves by whole pixels, zeros fill the border."""

import itertools

import jax
import numpy as np

from jaxae.data.transforms import random_shift


def numpy_shift(image, dy, dx):
    out = np.zeros_like(image)
    h, w = image.shape[:2]
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = image[max(-dy, 0):h - max(dy, 0),
                                                                     max(-dx, 0):w - max(dx, 0)]
    return out


def test_random_shift_moves_whole_pixels_within_the_range_and_fills_with_zeros():
    image = np.random.default_rng(0).random((7, 6, 2)).astype(np.float32) + 0.1  # No zero inside.
    shift = jax.jit(lambda key: random_shift(key, image, max_shift=2))
    seen = set()
    for key in jax.random.split(jax.random.PRNGKey(0), 60):
        out = np.asarray(shift(key))
        matches = [(dy, dx) for dy, dx in itertools.product(range(-2, 3), repeat=2)
                   if np.array_equal(out, numpy_shift(image, dy, dx))]
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) > 15  # The offsets vary over the 25 possible ones.
    np.testing.assert_array_equal(np.asarray(random_shift(jax.random.PRNGKey(1), image, max_shift=0)), image)
