"""Agglomerative clustering by graph degree linkage (AGDL; Zhang et al., 2012), the forward pass of
JULE (Yang et al., 2016), in JAX.

The points' k-nearest-neighbour graph has weights w_ab = exp(-||x_a - x_b||^2 / sigma^2) for b
among a's neighbours (sigma^2: `scale` x the mean squared neighbour distance). Two clusters are as
close as the paths of length two between them:

  A(C_i, C_j) = M_ij / |C_i|^2 + M_ji / |C_j|^2,   M_ij = sum over c in C_j of P_ic * Q_ci,

with P_ic = sum_{a in C_i} w_ac (weight into point c from C_i) and Q_ci = sum_{b in C_i} w_cb
(weight out of c into C_i). The closest pair merges, and so on down to the wanted number. (Two
clusters without a path of length two between them have affinity 0: a graph of too few
neighbours falls apart, and its pieces then merge in the order of their ids.)

Merging C_j into C_i changes only P's row i, Q's column i and M's row and column i: M's other
entries keep their values (column i of another row r becomes M_ri + M_rj), so each merge costs
O(n + C^2) for n points and C clusters, and a run of merges is one `lax.while_loop` on fixed
shapes: cluster ids stay in [0, capacity), dead clusters are masked. The arrays P, Q are
[capacity, n]: memory grows as capacity x n (mnist_5k's first clusters: 1,024 x 4,000 floats).
The scatter-adds are exact and ordered on CPU; on a GPU they use atomics, so a near-tie between
two merges can go either way unless XLA's deterministic ops are on
(XLA_FLAGS=--xla_gpu_deterministic_ops=true), which a bit-exact replay of JULE's refreshes needs.

The first clusters are AGDL's: the connected components of the graph joining each point to its
nearest neighbour (so each has at least two points and capacity = n // 2 always suffices).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse
import scipy.sparse.csgraph

from jaxae.cluster.kmeans import squared_distances


@functools.partial(jax.jit, static_argnames=("k", "block"))
def nearest_neighbours(x, k: int, *, block: int = 1024):
    """(indices [n, k] int32, squared distances [n, k]) of each point's k nearest other points.

    Rows are computed `block` at a time, so memory is O(block x n), not O(n^2).
    """
    n = x.shape[0]
    pad = -n % block
    rows = jnp.pad(x, ((0, pad), (0, 0))).reshape(-1, block, x.shape[1])
    starts = jnp.arange(rows.shape[0]) * block

    def one_block(args):
        points, start = args
        distances = squared_distances(points, x)
        own = start + jnp.arange(block)
        distances = distances.at[jnp.arange(block), own].set(jnp.inf, mode="drop")  # Not its own neighbour.
        negative, indices = jax.lax.top_k(-distances, k)
        return indices.astype(jnp.int32), -negative

    indices, distances = jax.lax.map(one_block, (rows, starts))
    return indices.reshape(-1, k)[:n], distances.reshape(-1, k)[:n]


def graph_weights(distances, scale: float = 1.0):
    """Gaussian weights [n, k] of the neighbour graph from squared distances [n, k]."""
    sigma2 = scale * jnp.mean(distances)
    return jnp.exp(-distances / jnp.maximum(sigma2, 1e-12))


def initial_clusters(neighbours) -> np.ndarray:
    """AGDL's first clusters [n] int32 (ids 0..C-1): components of the nearest-neighbour graph."""
    neighbours = np.asarray(neighbours)
    n = neighbours.shape[0]
    graph = scipy.sparse.coo_matrix((np.ones(n), (np.arange(n), neighbours[:, 0])), shape=(n, n))
    _, labels = scipy.sparse.csgraph.connected_components(graph, directed=False)
    return labels.astype(np.int32)


def capacity_for(num_clusters: int) -> int:
    """The power of two at or above num_clusters (at least 2): one compilation of `merge` per power."""
    return 1 << max(num_clusters - 1, 1).bit_length()


def merge_bytes(n: int, num_clusters: int) -> int:
    """The float32 bytes `merge` holds for n points starting from num_clusters clusters."""
    capacity = capacity_for(num_clusters)
    return 4 * (3 * capacity * n + 2 * capacity * capacity)  # P, Q, P * Q; M and the affinities.


def _affinity_rows(M, size, rows):
    """A[rows, :] [r, capacity] from M [capacity, capacity] and cluster sizes [capacity]."""
    size2 = jnp.maximum(size, 1).astype(M.dtype) ** 2
    return M[rows] / size2[rows, None] + M[:, rows].T / size2[None, :]


def _masked(A, alive):
    keep = alive[:, None] & alive[None, :] & ~jnp.eye(A.shape[0], dtype=bool)
    return jnp.where(keep, A, -jnp.inf)


@functools.partial(jax.jit, static_argnames=("capacity", "small_fraction"))
def merge(labels, neighbours, weights, num_clusters, *, capacity: int, small_fraction: float = 0.0):
    """Merges the closest clusters (AGDL affinity) until `num_clusters` remain.

    Args:
      labels: [n] int32 cluster of each point, ids in [0, capacity).
      neighbours, weights: [n, k] the neighbour graph (`nearest_neighbours`, `graph_weights`).
      num_clusters: how many clusters to leave (a traced scalar; no merge if already as few).
      capacity: a static bound above every id; arrays are [capacity, n] and [capacity, capacity].
    Returns:
      [n] int32 labels renumbered 0..C-1 in the order of their old ids.
    """
    n = labels.shape[0]
    P = jnp.zeros((capacity, n), weights.dtype).at[labels[:, None], neighbours].add(weights)
    Qt = jnp.zeros((capacity, n), weights.dtype).at[labels[neighbours], jnp.arange(n)[:, None]].add(weights)
    M = jax.ops.segment_sum((P * Qt).T, labels, capacity).T
    size = jnp.zeros((capacity,), jnp.int32).at[labels].add(1)
    A = _masked(_affinity_rows(M, size, jnp.arange(capacity)), size > 0)

    def more(carry):
        size = carry[4]
        return jnp.sum(size > 0) > num_clusters

    def merge_closest(carry):
        labels, P, Qt, M, size, A = carry
        alive = size > 0
        small = alive & (size < small_fraction * n / jnp.sum(alive))
        smallest = jnp.argmin(jnp.where(small, size, n + 1))
        flat = jnp.argmax(A)
        a = jnp.where(jnp.any(small), smallest, flat // capacity)
        b = jnp.where(jnp.any(small), jnp.argmax(A[smallest]), flat % capacity)
        i, j = jnp.minimum(a, b), jnp.maximum(a, b)
        P = P.at[i].add(P[j]).at[j].set(0.0)
        Qt = Qt.at[i].add(Qt[j]).at[j].set(0.0)
        labels = jnp.where(labels == j, i, labels)
        size = size.at[i].add(size[j]).at[j].set(0)
        # Rows other than i, j keep P and Q: their M entries into the merged cluster just add up.
        M = M.at[:, i].add(M[:, j]).at[i].set(jax.ops.segment_sum(P[i] * Qt[i], labels, capacity))
        M = M.at[j].set(0.0).at[:, j].set(0.0)
        row = _affinity_rows(M, size, i[None])[0]
        alive = size > 0
        row = jnp.where(alive & (jnp.arange(capacity) != i), row, -jnp.inf)
        A = A.at[i].set(row).at[:, i].set(row).at[j].set(-jnp.inf).at[:, j].set(-jnp.inf)
        return labels, P, Qt, M, size, A

    labels, *_, size, _ = jax.lax.while_loop(more, merge_closest, (labels, P, Qt, M, size, A))
    rank = jnp.cumsum(size > 0) - 1
    return rank[labels].astype(jnp.int32)
