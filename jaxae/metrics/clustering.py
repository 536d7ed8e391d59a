"""Clustering metrics from a label x cluster contingency matrix: ACC (Hungarian matching), NMI, ARI.

The evaluator accumulates the matrix over batches and devices (`contingency` inside the jitted
eval step); the scores are computed once from the total on the host. The definitions follow
scikit-learn's (`normalized_mutual_info_score` with the arithmetic mean, `adjusted_rand_score`),
which the tests use as the reference.
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
