"""Clustering metrics: from a label x cluster contingency matrix, ACC (Hungarian matching), NMI and
ARI; without labels, the clusters' sizes and the simplified silhouette of the codes.

The evaluator accumulates the matrix (or the sizes and silhouettes) over batches and devices
(`contingency`, `cluster_sizes`, `simplified_silhouette` inside the jitted eval step); the scores are
computed once from the totals on the host. The labelled definitions follow scikit-learn's
(`normalized_mutual_info_score` with the arithmetic mean, `adjusted_rand_score`), which the tests
use as the reference.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.special import comb


def contingency_rows(clusters: int, label_field=None) -> int:
    """Rows of a label x cluster contingency matrix: the data's class count (its 'label' field's
    `vocab_size`, when known) or `clusters`, whichever is larger."""
    known = getattr(label_field, "vocab_size", None) or 0
    return max(clusters, known)


def contingency(labels, clusters, num_classes: int, num_clusters: int, mask=None):
    """[num_classes, num_clusters] counts of examples with each (label, cluster) pair.

    labels, clusters: [n] ints; mask: [n] float, 0 for padding (default all 1).
    """
    member = jax.nn.one_hot(clusters, num_clusters, dtype=jnp.float32)
    if mask is not None:
        member = member * mask[:, None]
    return jax.nn.one_hot(labels, num_classes, dtype=jnp.float32).T @ member


def cluster_sizes(clusters, num_clusters: int, mask):
    """[num_clusters] how many of the (unmasked) examples each cluster holds; clusters [n] ints, mask [n]."""
    return (jax.nn.one_hot(clusters, num_clusters, dtype=jnp.float32) * mask[:, None]).sum(axis=0)


def simplified_silhouette(codes, centroids, clusters):
    """[n] (b - a) / max(a, b) per code, where a is its distance to its own cluster's centre and b
    to the nearest other centre (Hruschka et al.'s simplified silhouette: the silhouette with
    centres in place of all pairs, so it sums over batches). In [-1, 1]: near 1 for a code close to
    its own centre and far from the others; negative where a method's cluster is not the nearest centre.

    codes [n, d], centroids [k, d] (k >= 2), clusters [n] ints below k.
    """
    distances = jnp.sqrt(jnp.maximum(jnp.sum((codes[:, None, :] - centroids[None]) ** 2, axis=-1), 0.0))
    own = jax.nn.one_hot(clusters, centroids.shape[0], dtype=bool)
    a = jnp.sum(jnp.where(own, distances, 0.0), axis=-1)
    b = jnp.min(jnp.where(own, jnp.inf, distances), axis=-1)
    return jnp.where(jnp.maximum(a, b) > 0, (b - a) / jnp.maximum(jnp.maximum(a, b), 1e-30), 0.0)


def label_free_scores(sizes, silhouette_sum) -> dict[str, float]:
    """{'silhouette', 'size_entropy', 'largest_cluster', 'empty_clusters'} from the summed cluster
    sizes [k] and simplified silhouettes: the mean silhouette, the sizes' entropy over log k (1 when
    the clusters are of equal size), the largest cluster's share of the examples, the empty clusters."""
    sizes = np.asarray(sizes, np.float64)
    total = sizes.sum()
    return {"silhouette": float(silhouette_sum / total), "size_entropy": _entropy(sizes) / np.log(len(sizes)),
            "largest_cluster": float(sizes.max() / total), "empty_clusters": float(np.sum(sizes == 0))}


def accuracy(table) -> float:
    """The fraction of examples right under the best one-to-one map of clusters to labels."""
    table = np.asarray(table, np.float64)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / table.sum())


def _entropy(counts) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-np.sum(p * np.log(p)))


def normalized_mutual_information(table) -> float:
    """I(labels; clusters) / mean(H(labels), H(clusters)); 1 when both are one-cluster partitions."""
    table = np.asarray(table, np.float64)
    total = table.sum()
    h_labels, h_clusters = _entropy(table.sum(1)), _entropy(table.sum(0))
    if h_labels == 0 and h_clusters == 0:
        return 1.0
    joint = table / total
    outer = np.outer(table.sum(1), table.sum(0)) / total**2
    nonzero = joint > 0
    mutual = float(np.sum(joint[nonzero] * np.log(joint[nonzero] / outer[nonzero])))
    return max(mutual, 0.0) / max((h_labels + h_clusters) / 2, np.finfo(np.float64).eps)


def adjusted_rand_index(table) -> float:
    """The Rand index over pairs of examples, adjusted for chance (0 for random, 1 for identical)."""
    table = np.asarray(table, np.float64)
    pairs = comb(table, 2).sum()
    rows, cols = comb(table.sum(1), 2).sum(), comb(table.sum(0), 2).sum()
    expected = rows * cols / comb(table.sum(), 2)
    top = (rows + cols) / 2
    if top == expected:  # Both partitions trivial (one cluster, or all singletons): a perfect match.
        return 1.0
    return float((pairs - expected) / (top - expected))


def purity(table) -> float:
    """The fraction right when each cluster takes its most frequent label (several clusters may take
    one label): the accuracy of Makhzani et al.'s clustering experiments, with more clusters than classes."""
    table = np.asarray(table, np.float64)
    return float(table.max(axis=0).sum() / table.sum())


def scores(table) -> dict[str, float]:
    """{'cluster_acc', 'nmi', 'ari'} of a contingency matrix [classes, clusters]."""
    return {"cluster_acc": accuracy(table), "nmi": normalized_mutual_information(table),
            "ari": adjusted_rand_index(table)}
