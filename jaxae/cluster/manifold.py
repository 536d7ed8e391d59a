"""Clustering the local manifold of the codes (N2D; McConville et al., 2020), made stable by the
mixture's restarts and a consensus of embeddings, and predictions for new codes by their nearest
neighbours.

N2D embeds an autoencoder's codes with UMAP (n_neighbors 20, min_dist 0, as many dimensions as
clusters: the settings of the authors' MNIST run) and fits a full-covariance Gaussian mixture in
that embedding. One fit of the mixture is fragile: on the codes of one mnist_5k autoencoder, on 4
UMAP seeds of 8 it gave 0.80-0.85 training ACC (the one looked at split the 1s in two and joined
4 with 9); the fit of highest likelihood of 10 initialisations (`restarts`) gave 0.95-0.96 on all 8
(on sklearn_digits, 3 autoencoders x 6 seeds: 0.80-0.93 from one fit, 0.90-0.93 from the best of
10). Several embeddings are made on top, and `most_agreed` keeps the partition that agrees best
(adjusted Rand index) with the others: the medoid of the partitions, a consensus that needs no
labels and holds while most embeddings keep the digits apart. (Evidence accumulation, average
linkage on the fraction of partitions that separate two points, was tried first: it cut off one
point as a cluster of its own and kept two digits together.)

UMAP has no out-of-sample map that can be saved without pickle, so a new code takes the majority
cluster of its `k` nearest training codes (`vote`, in JAX): the training codes and their clusters
are the model.

`partition` and `most_agreed` are host code (umap-learn, scikit-learn), run once per clustering.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxae.cluster.kmeans import squared_distances
from jaxae.metrics import clustering as metrics


def partition(codes: np.ndarray, k: int, *, neighbours: int, min_dist: float, epochs: int, restarts: int,
              seed: int) -> np.ndarray:
    """[n] int labels in [0, k): a Gaussian mixture on the UMAP embedding of codes [n, d].

    Args:
      codes: [n, d] float points; k: the number of clusters (and of embedding dimensions).
      neighbours, min_dist: UMAP's n_neighbors and min_dist.
      epochs: UMAP's optimisation epochs (0: its default, 500 below 10,000 points).
      restarts: the mixture's initialisations (k-means); the fit of highest likelihood is kept.
      seed: UMAP's and the mixture's random_state; with it UMAP runs on one thread, reproducibly.
    """
    import umap  # Imported here: umap-learn loads numba, seconds that the other families need not pay.
    from sklearn.mixture import GaussianMixture

    embedding = umap.UMAP(n_components=k, n_neighbors=neighbours, min_dist=min_dist, n_epochs=epochs or None,
                          random_state=seed, n_jobs=1).fit_transform(np.asarray(codes, np.float32))
    mixture = GaussianMixture(k, covariance_type="full", n_init=restarts, random_state=seed)
    return mixture.fit(embedding).predict(embedding)


def agreements(partitions: np.ndarray, k: int) -> np.ndarray:
    """[r] mean adjusted Rand index of each of r partitions [r, n] (labels in [0, k)) with the r - 1
    others (1 for a single partition). No ground truth is involved: only the partitions' agreement."""
    r = len(partitions)
    if r == 1:
        return np.ones(1)
    pairs = np.eye(r)
    for i in range(r):
        for j in range(i + 1, r):
            table = np.asarray(metrics.contingency(partitions[i], partitions[j], k, k))
            pairs[i, j] = pairs[j, i] = metrics.adjusted_rand_index(table)
    return (pairs.sum(axis=1) - 1) / (r - 1)


def most_agreed(partitions: np.ndarray, k: int) -> tuple[int, float]:
    """(index, mean agreement) of the partition [r, n] that agrees best with the others (the first
    on a tie: with r = 2 both agree equally, so the trainer asks for 1 or at least 3)."""
    scores = agreements(partitions, k)
    best = int(np.argmax(scores))
    return best, float(scores[best])


def vote(queries, codes, labels, num_clusters: int, k: int):
    """[b] int32: the most frequent cluster among each query's k nearest codes (ties: the lower id).

    queries: [b, d]; codes: [n, d] the clustered points, labels [n] their clusters in [0, num_clusters).
    """
    # Not agglomerative.nearest_neighbours: that one searches a set against itself, leaving each point out.
    _, nearest = jax.lax.top_k(-squared_distances(queries, codes), k)  # [b, k]
    counts = jnp.sum(jax.nn.one_hot(labels[nearest], num_clusters, dtype=jnp.int32), axis=1)  # [b, clusters]
    return jnp.argmax(counts, axis=-1).astype(jnp.int32)
