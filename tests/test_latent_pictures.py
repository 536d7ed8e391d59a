"""Interpolations and traversals of a code space, checked through a decoder that shows its codes."""

import jax.numpy as jnp
import numpy as np

from jaxae.pictures import latent_pictures


def shown(codes):
    """A 'decoder' whose image of a code [latent] is the code itself, [1, latent, 1]."""
    return codes[:, None, :, None]


def test_interpolations_run_from_the_first_code_of_a_pair_to_the_second():
    codes = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    lines = np.asarray(latent_pictures.interpolations(shown, jnp.asarray(codes), steps=4))[:, :, 0, :, 0]
    assert lines.shape == (2, 4, 3)  # The fifth code has no partner.
    np.testing.assert_allclose(lines[:, 0], codes[[0, 2]], rtol=1e-6)
    np.testing.assert_allclose(lines[:, -1], codes[[1, 3]], rtol=1e-6)
    np.testing.assert_allclose(lines[1, 1], codes[2] + (codes[3] - codes[2]) / 3, rtol=1e-5, atol=1e-6)


def test_traversals_move_one_dimension_and_keep_the_others():
    base = jnp.asarray([0.5, -1.0, 2.0], jnp.float32)
    grid = np.asarray(latent_pictures.traversals(shown, base, dimensions=10, steps=5, reach=2.0))[:, :, 0, :, 0]
    assert grid.shape == (3, 5, 3)  # As many rows as the code has dimensions, at most 10.
    for dimension in range(3):
        np.testing.assert_allclose(grid[dimension, :, dimension], np.linspace(-2, 2, 5), rtol=1e-6)
        others = [d for d in range(3) if d != dimension]
        np.testing.assert_array_equal(grid[dimension][:, others], np.broadcast_to(np.asarray(base)[others], (5, 2)))
