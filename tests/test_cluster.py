"""K-means and the clustering metrics against scikit-learn (and a brute-force matching)."""

import itertools

import jax
import numpy as np
import pytest
from sklearn import metrics as sk_metrics
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits

from jaxae.cluster import kmeans
from jaxae.devices import parallel
from jaxae.metrics import clustering as metrics


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    return (x / 16).astype(np.float32), y


def blobs(seed=0, per_cluster=40, k=5, dim=3):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=50.0, size=(k, dim))
    labels = np.repeat(np.arange(k), per_cluster)
    points = centres[labels] + rng.normal(scale=0.5, size=(len(labels), dim))
    order = rng.permutation(len(labels))
    return points[order].astype(np.float32), labels[order]


def test_well_separated_blobs_are_recovered_exactly():
    x, labels = blobs()
    found = kmeans.kmeans(jax.random.PRNGKey(0), x, 5, num_restarts=3)
    assert sk_metrics.adjusted_rand_score(labels, np.asarray(found.assignments)) == 1.0
    means = np.stack([x[labels == c].mean(0) for c in range(5)])
    matched = np.asarray(found.centroids)[[np.asarray(found.assignments)[labels == c][0] for c in range(5)]]
    np.testing.assert_allclose(matched, means, rtol=1e-4, atol=1e-4)


def test_inertia_matches_scikit_learn_on_digits(digits):
    x, _ = digits
    ours = kmeans.kmeans(jax.random.PRNGKey(0), x, 10, num_restarts=10)
    theirs = KMeans(10, n_init=10, random_state=0).fit(x)
    assert float(ours.inertia) == pytest.approx(theirs.inertia_, rel=0.01)
    # The inertia is that of the returned centroids and assignments.
    centroids, assignments = np.asarray(ours.centroids), np.asarray(ours.assignments)
    assert float(ours.inertia) == pytest.approx(np.sum((x - centroids[assignments]) ** 2), rel=1e-4)
    np.testing.assert_array_equal(assignments, np.argmin(((x[:, None] - centroids[None]) ** 2).sum(-1), -1))


def test_zero_weights_leave_padding_out(digits):
    """Padding rows (weight 0, far away) change neither the centroids nor the inertia."""
    x, _ = digits
    padded = np.concatenate([x, np.full((11, x.shape[1]), 100.0, np.float32)])
    weights = np.concatenate([np.ones(len(x)), np.zeros(11)])
    found = kmeans.kmeans(jax.random.PRNGKey(1), padded, 10, weights=weights, num_restarts=4)
    assert np.abs(np.asarray(found.centroids)).max() <= 1.0  # No centroid pulled to the padding.
    reference = KMeans(10, n_init=10, random_state=0).fit(x).inertia_
    assert float(found.inertia) == pytest.approx(reference, rel=0.01)


def test_codes_split_over_eight_devices_give_the_same_clustering(digits):
    x, _ = digits
    x = x[:1792]  # A multiple of 8.
    one = kmeans.kmeans(jax.random.PRNGKey(2), x, 10, num_restarts=3)
    mesh = parallel.make_mesh(8)
    sharded = jax.device_put(x, parallel.batch_sharding(mesh))
    eight = kmeans.kmeans(jax.random.PRNGKey(2), sharded, 10, num_restarts=3)
    np.testing.assert_array_equal(np.asarray(one.assignments), np.asarray(eight.assignments))
    np.testing.assert_allclose(np.asarray(one.centroids), np.asarray(eight.centroids), rtol=1e-5, atol=1e-5)


def test_the_contingency_matrix_matches_scikit_learn_and_skips_masked_examples():
    rng = np.random.default_rng(0)
    labels, clusters = rng.integers(0, 4, 50), rng.integers(0, 6, 50)
    mask = (rng.random(50) < 0.8).astype(np.float32)
    table = np.asarray(metrics.contingency(labels, clusters, 4, 6, mask))
    kept = mask > 0
    expected = sk_metrics.cluster.contingency_matrix(labels[kept], clusters[kept])
    present = np.unique(clusters[kept])
    np.testing.assert_array_equal(table[:, present], expected)
    assert table[:, np.setdiff1d(np.arange(6), present)].sum() == 0


def brute_force_accuracy(labels, clusters, k):
    return max(np.mean(np.asarray(permutation)[clusters] == labels) for permutation in itertools.permutations(range(k)))


@pytest.mark.parametrize("seed", range(4))
def test_scores_equal_scikit_learn_and_brute_force_matching(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 5, 200)
    # Partly right, partly noise, clusters renamed: a realistic mixture.
    clusters = np.where(rng.random(200) < 0.6, (labels + 2) % 5, rng.integers(0, 5, 200))
    table = np.asarray(metrics.contingency(labels, clusters, 5, 5))
    scores = metrics.scores(table)
    assert scores["cluster_acc"] == pytest.approx(brute_force_accuracy(labels, clusters, 5))
    assert scores["nmi"] == pytest.approx(sk_metrics.normalized_mutual_info_score(labels, clusters))
    assert scores["ari"] == pytest.approx(sk_metrics.adjusted_rand_score(labels, clusters))


def test_scores_of_degenerate_partitions_equal_scikit_learn():
    labels = np.array([0, 0, 1, 1, 2, 2])
    for clusters in (np.zeros(6, int), np.array([0, 0, 1, 1, 2, 2]), np.array([1, 1, 0, 0, 2, 2])):
        table = np.asarray(metrics.contingency(labels, clusters, 3, 3))
        assert metrics.normalized_mutual_information(table) == pytest.approx(
            sk_metrics.normalized_mutual_info_score(labels, clusters))
        assert metrics.adjusted_rand_index(table) == pytest.approx(sk_metrics.adjusted_rand_score(labels, clusters))


def test_label_free_measures_equal_their_numpy_and_scipy_definitions():
    from scipy.stats import entropy

    rng = np.random.default_rng(0)
    codes, centroids, clusters = rng.normal(size=(60, 5)), rng.normal(size=(4, 5)), rng.integers(0, 3, 60)
    silhouettes = np.asarray(metrics.simplified_silhouette(codes, centroids, clusters))
    distances = np.linalg.norm(codes[:, None] - centroids[None], axis=-1)
    own = distances[np.arange(60), clusters]
    distances[np.arange(60), clusters] = np.inf
    np.testing.assert_allclose(silhouettes, (distances.min(1) - own) / np.maximum(own, distances.min(1)), rtol=1e-5)
    mask = (np.arange(60) < 50).astype(np.float32)  # The last 10 are a batch's padding.
    sizes = np.asarray(metrics.cluster_sizes(clusters, 4, mask))
    np.testing.assert_array_equal(sizes, np.bincount(clusters[:50], minlength=4))
    report = metrics.label_free_scores(sizes, float(np.sum(silhouettes * mask)))
    assert report["silhouette"] == pytest.approx(silhouettes[:50].mean(), rel=1e-5)
    assert report["size_entropy"] == pytest.approx(entropy(sizes) / np.log(4))
    assert report["largest_cluster"] == pytest.approx(sizes.max() / 50)
    assert report["empty_clusters"] == 1  # Cluster 3 is never drawn.
