"""N2D: the partition that agrees best with the others, predictions by nearest-neighbour vote
against scikit-learn, UMAP + mixture on separated blobs; the family through the shared loop on
scikit-learn's digits, resumed bit-exactly around its phase start, and 1 against 8 devices."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score
from sklearn.neighbors import KNeighborsClassifier

import jaxae
from jaxae.cluster import manifold
from jaxae.data.builders import every_fifth_is_test, load_sklearn_digits_arrays, split_masks
from jaxae.devices import parallel
from jaxae.errors import ConfigError
from jaxae.runs.metric_writers import read_metrics
from jaxae.trainers.clustering.n2d import embedding_seeds
from helpers import assert_resumes_exactly, tiny, train


def noisy(labels, rng, rate=0.02):
    """labels relabelled by a random permutation, with `rate` of them moved to a random cluster."""
    moved = np.where(rng.random(labels.size) < rate, rng.integers(0, labels.max() + 1, labels.size), labels)
    return rng.permutation(labels.max() + 1)[moved]


def test_the_partition_most_like_the_others_outvotes_two_that_merged_clusters():
    rng = np.random.default_rng(0)
    truth = np.repeat(np.arange(5), 60)
    merged = np.where(truth == 1, 0, truth)  # Clusters 0 and 1 joined, cluster 2 split in two.
    merged[np.flatnonzero(truth == 2)[::2]] = 1
    partitions = np.stack([noisy(truth, rng), noisy(merged, rng), noisy(truth, rng), noisy(merged, rng),
                           noisy(truth, rng)])
    best, agreement = manifold.most_agreed(partitions, 5)
    assert best in (0, 2, 4)
    expected = [np.mean([adjusted_rand_score(p, q) for q in np.delete(partitions, i, 0)])
                for i, p in enumerate(partitions)]
    np.testing.assert_allclose(manifold.agreements(partitions, 5), expected, rtol=1e-6)
    assert agreement == pytest.approx(max(expected))
    assert manifold.most_agreed(partitions[:1], 5) == (0, 1.0)  # One embedding: N2D as published.


def test_votes_are_scikit_learns_nearest_neighbour_classification():
    rng = np.random.default_rng(1)
    codes, queries = rng.normal(size=(300, 4)), rng.normal(size=(80, 4))
    labels = rng.integers(0, 6, 300)
    votes = manifold.vote(jnp.asarray(queries, jnp.float32), jnp.asarray(codes, jnp.float32),
                          jnp.asarray(labels, jnp.int32), 6, 7)
    expected = KNeighborsClassifier(n_neighbors=7).fit(codes, labels).predict(queries)  # Ties: the lower label.
    np.testing.assert_array_equal(np.asarray(votes), expected)


def test_umap_and_a_mixture_find_separated_blobs_and_repeat_with_their_seed():
    points, truth = make_blobs(n_samples=300, centers=4, n_features=6, cluster_std=0.5, random_state=0)
    settings = dict(neighbours=10, min_dist=0.0, epochs=50, restarts=2, seed=3)
    found = manifold.partition(points, 4, **settings)
    assert adjusted_rand_score(truth, found) == 1.0
    np.testing.assert_array_equal(manifold.partition(points, 4, **settings), found)


def n2d_config(mode="jit"):
    # Pretraining 10 steps (saved at 5), then N2D's phase, its start hook alone (3 embeddings), at 10: the final save.
    return tiny("n2d_mnist", log_every=5, checkpoint_every=5, eval_every=0, parallel__mode=mode)


@pytest.fixture(scope="module")
def n2d_run(tmp_path_factory, digit_sources):
    workdir = tmp_path_factory.mktemp("n2d")
    return workdir, train(workdir, n2d_config(), digit_sources)


def test_clusters_the_pretrained_codes_and_predicts_by_their_neighbours(n2d_run):
    workdir, result = n2d_run
    records = read_metrics(str(workdir))
    started = [r for r in records if "n2d/agreement" in r]
    assert [r["step"] for r in started] == [10] and started[0]["n2d/embedding"] in (0.0, 1.0, 2.0)
    assert -1 <= started[0]["n2d/agreement"] <= 1
    state = jax.device_get(result.state)
    labels, codes = state.extra["labels"], state.extra["codes"]
    assert labels.shape == (1442,) and sorted(np.unique(labels)) == list(range(10))
    assert started[0]["n2d/smallest_cluster"] == np.bincount(labels).min()
    model = jaxae.load(str(workdir))
    images, all_labels = load_sklearn_digits_arrays()
    masks = split_masks(all_labels, every_fifth_is_test)
    train_images, new = images[masks["train"]], images[masks["test"]]
    np.testing.assert_allclose(model.encode(train_images), codes, rtol=1e-5, atol=1e-5)  # The pretrained codes.
    np.testing.assert_allclose(model.centroids, [codes[labels == c].mean(0) for c in range(10)], rtol=1e-5, atol=1e-6)
    expected = KNeighborsClassifier(n_neighbors=10).fit(codes, labels).predict(model.encode(new))
    np.testing.assert_array_equal(model.predict(new), expected)
    assert 0.1 <= result.eval_metrics["eval/cluster_acc"] <= 1


@pytest.mark.parametrize("keep_through", [5, 10])
def test_resumes_bit_exactly_before_and_right_after_the_phase_start(tmp_path, digit_sources, n2d_run, keep_through):
    """Killed at 5 the embeddings are made on resume; the checkpoint of 10, where pretraining ends,
    holds them (the phase is its start hook alone), and they are read back."""
    workdir, result = n2d_run
    assert_resumes_exactly(tmp_path, workdir, result, n2d_config(), digit_sources, keep_through)


def test_eight_devices_give_the_codes_of_one_and_cluster_them_alike(tmp_path, digit_sources, n2d_run):
    """Pretraining on 8 devices gives the codes of 1 within 1e-5 (they differ around 1e-7), but UMAP
    is chaotic in its input (its spectral start): codes that differ in the 7th digit embed
    differently. So the clusters are checked to be the same function of the codes and the run's
    key on 8 devices as on 1: the embeddings made again here from the 8-device codes. Sharded jit
    only: N2D's one trained step is the autoencoder core's, which tests/test_trainer.py and DCN's
    pretraining (tests/test_clustering_families.py) run under pmap too, and its hook runs under jit
    in either mode."""
    _, one = n2d_run
    eight = train(tmp_path, n2d_config(), digit_sources, parallel.make_mesh(8))
    one_state, eight_state = jax.device_get(one.state), jax.device_get(eight.state)
    chex.assert_trees_all_close(one_state.extra["codes"], eight_state.extra["codes"], rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(one_state.key, eight_state.key)
    n2d = n2d_config().n2d
    partitions = np.stack([manifold.partition(eight_state.extra["codes"], 10, neighbours=n2d.umap_neighbours,
                                              min_dist=n2d.umap_min_dist, epochs=n2d.umap_epochs,
                                              restarts=n2d.mixture_restarts, seed=seed)
                           for seed in embedding_seeds(eight_state.key, n2d.embeddings)])
    chosen, agreement = manifold.most_agreed(partitions, 10)
    np.testing.assert_array_equal(eight_state.extra["labels"], partitions[chosen])
    started = next(r for r in read_metrics(str(tmp_path)) if "n2d/agreement" in r)
    assert (started["n2d/embedding"], started["n2d/agreement"]) == (chosen, pytest.approx(agreement))


@pytest.mark.parametrize("field, value, message", [
    ("embeddings", 0, "n2d.embeddings"),
    ("embeddings", 2, "n2d.embeddings=2: two partitions always agree"),
    ("umap_min_dist", 1.5, "n2d.umap_min_dist"),
    ("umap_neighbours", 2000, "N2D needs more training examples than n2d.umap_neighbours"),
])
def test_bad_settings_are_refused_before_training(tmp_path, digit_sources, field, value, message):
    config = n2d_config()
    config.n2d[field] = value
    with pytest.raises(ConfigError, match=message):
        train(tmp_path, config, digit_sources)
    assert not (tmp_path / "checkpoints").exists()
