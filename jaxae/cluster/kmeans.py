"""K-means in JAX: greedy k-means++ seeding, Lloyd iterations, restarts run at once under `vmap`.

Written here rather than taken from ott-jax (`ott.tools.k_means`, which has the same algorithm):
ott-jax would bring jaxopt (no release since 2025-04) and lineax for some 120 lines, and ours
takes per-point weights (0 for the padding of a batch split over devices) and works on codes
sharded over a mesh: every reduction over points is a matrix product or a sum, which XLA splits
across devices under sharded `jit` by itself.

Everything is pure and jittable; `kmeans` is the entry point.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp


class KMeansResult(NamedTuple):
    """centroids [k, d]; assignments [n] int32; inertia: the weighted sum of squared distances of
    the points to their centroids (scalar); iterations: the Lloyd iterations run (scalar)."""

    centroids: jax.Array
    assignments: jax.Array
    inertia: jax.Array
    iterations: jax.Array


def squared_distances(x, centroids):
    """x [n, d], centroids [k, d] -> [n, k] squared Euclidean distances (never negative)."""
    cross = x @ centroids.T
    return jnp.maximum(jnp.sum(x * x, -1, keepdims=True) - 2 * cross + jnp.sum(centroids * centroids, -1), 0.0)


def cluster_means(x, labels, capacity: int):
    """[capacity, d] mean of the points x [n, d] of each cluster id in labels [n] (zero rows for
    empty ids: unlike `lloyd_update`, nothing is re-seeded)."""
    sums = jax.ops.segment_sum(x, labels, capacity)
    counts = jax.ops.segment_sum(jnp.ones(labels.shape, x.dtype), labels, capacity)
    return sums / jnp.maximum(counts, 1.0)[:, None]


def kmeans_plus_plus(key, x, k: int, weights, num_trials: int | None = None):
    """Greedy k-means++ seeding (Arthur & Vassilvitskii, 2007, as scikit-learn does it).

    Each new centre is the best of `num_trials` candidates (default 2 + log k) drawn with
    probability proportional to weight x squared distance to the nearest centre so far.

    Args:
      x: [n, d] points; weights: [n] non-negative (0 excludes a point).
    Returns:
      [k, d] initial centroids.
    """
    num_trials = num_trials or 2 + int(math.log(k))
    first_key, rest_key = jax.random.split(key)
    first = jax.random.choice(first_key, x.shape[0], p=weights / jnp.sum(weights))
    centroids = jnp.zeros((k, x.shape[1]), x.dtype).at[0].set(x[first])
    nearest = squared_distances(x, x[first][None])[:, 0]

    def add_centre(i, carry):
        centroids, nearest = carry
        scores = weights * nearest
        # Every point left at distance 0 (fewer distinct points than k): draw uniformly among the rest.
        p = jnp.where(jnp.sum(scores) > 0, scores, weights)
        candidates = jax.random.choice(jax.random.fold_in(rest_key, i), x.shape[0], (num_trials,), p=p / jnp.sum(p))
        with_candidate = jnp.minimum(nearest[:, None], squared_distances(x, x[candidates]))  # [n, trials]
        best = jnp.argmin(weights @ with_candidate)
        return centroids.at[i].set(x[candidates[best]]), with_candidate[:, best]

    centroids, _ = jax.lax.fori_loop(1, k, add_centre, (centroids, nearest))
    return centroids


def lloyd_update(x, weights, centroids):
    """One Lloyd iteration: assign, then move each centroid to its points' weighted mean.

    An emptied cluster takes the point farthest from its centroid (the j-th empty cluster the
    j-th farthest point), as scikit-learn does, so k clusters stay in use.
    Returns (new centroids [k, d], assignments [n], inertia before the move).
    """
    k = centroids.shape[0]
    distances = squared_distances(x, centroids)
    assignments = jnp.argmin(distances, axis=-1)
    nearest = jnp.min(distances, axis=-1)
    members = jax.nn.one_hot(assignments, k, dtype=x.dtype) * weights[:, None]  # [n, k]
    counts = jnp.sum(members, axis=0)
    means = (members.T @ x) / jnp.maximum(counts, 1e-12)[:, None]
    empty = counts <= 0
    farthest = jnp.argsort(-(nearest * (weights > 0)))[:k]
    replacement = x[farthest[jnp.clip(jnp.cumsum(empty) - 1, 0, k - 1)]]
    new = jnp.where(empty[:, None], replacement, means)
    return new, assignments.astype(jnp.int32), weights @ nearest


def _single_run(key, x, weights, k: int, max_iterations: int, tolerance):
    """One seeding and Lloyd until the centroids move less than `tolerance` (squared, summed)."""

    def not_done(carry):
        _, shift, iteration = carry
        return (shift > tolerance) & (iteration < max_iterations)

    def iterate(carry):
        centroids, _, iteration = carry
        new, _, _ = lloyd_update(x, weights, centroids)
        return new, jnp.sum((new - centroids) ** 2), iteration + 1

    start = kmeans_plus_plus(key, x, k, weights)
    centroids, _, iterations = jax.lax.while_loop(not_done, iterate, (start, jnp.asarray(jnp.inf, x.dtype), 0))
    distances = squared_distances(x, centroids)
    assignments = jnp.argmin(distances, axis=-1).astype(jnp.int32)
    return KMeansResult(centroids, assignments, weights @ jnp.min(distances, axis=-1), iterations)


@functools.partial(jax.jit, static_argnames=("k", "num_restarts", "max_iterations"))
def kmeans(key, x, k: int, *, weights=None, num_restarts: int = 10, max_iterations: int = 300, tolerance: float = 1e-4):
    """K-means with `num_restarts` k-means++ seedings run at once; the run of least inertia wins.

    Picking by inertia needs no labels, so it is a fair model selection for clustering.

    Args:
      key: PRNG key; x: [n, d] points (float32); weights: [n] >= 0 (default all 1; 0 for padding).
      tolerance: stop when the centroids' summed squared move falls below `tolerance` times the
        mean per-feature variance of x (scikit-learn's relative tolerance).
    Returns:
      KMeansResult of the best restart.
    """
    x = jnp.asarray(x, jnp.float32)
    weights = jnp.ones(x.shape[0], x.dtype) if weights is None else jnp.asarray(weights, x.dtype)
    mean = weights @ x / jnp.sum(weights)
    variance = weights @ ((x - mean) ** 2) / jnp.sum(weights)
    runs = jax.vmap(_single_run, in_axes=(0, None, None, None, None, None))(
        jax.random.split(key, num_restarts), x, weights, k, max_iterations, tolerance * jnp.mean(variance))
    best = jnp.argmin(runs.inertia)
    return jax.tree.map(lambda leaf: leaf[best], runs)


def assign(x, centroids):
    """x [n, d] -> [n] int32 index of each point's nearest centroid [k, d]."""
    return jnp.argmin(squared_distances(x, centroids), axis=-1).astype(jnp.int32)
