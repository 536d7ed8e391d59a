"""JULE through the shared loop on scikit-learn's digits: the merge schedule over refreshes, the
clustering loss against NumPy, predictions, and configs refused. (Resuming around a refresh, and 1
against 8 devices giving the same clusters: tests/test_every_family.py, on the same run.)"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import jaxae
from jaxae.data.builders import load_sklearn_digits_arrays
from jaxae.errors import ConfigError
from jaxae.runs.metric_writers import read_metrics
from jaxae.trainers.clustering import jule
import cases
from helpers import train


@pytest.fixture(scope="module")
def jule_run():
    result = cases.trained("jule_mnist")
    return result.workdir, result


def test_clusters_merge_along_the_schedule_and_are_scored_once_there(jule_run):
    workdir, result = jule_run
    records = read_metrics(str(workdir))
    counts = [(r["step"], r["cluster/num_clusters"]) for r in records if "cluster/num_clusters" in r]
    assert counts == [(10, 25), (12, 16), (14, 10), (16, 10)]
    components = next(r["cluster/components"] for r in records if "cluster/components" in r)
    assert components >= 40  # AGDL's first clusters: a few points each, then merged to jule.first_clusters.
    state = jax.device_get(result.state)
    labels = state.extra["labels"]
    assert labels.shape == (1442,) and sorted(np.unique(labels)) == list(range(10))
    assert 0.1 <= result.eval_metrics["eval/cluster_acc"] <= 1
    assert any("train/cluster" in r for r in records if r["step"] > 10)
    means = state.extra["means"]  # A row per possible cluster: only the 10 live ones hold a mean.
    assert means.shape == (721, 4) and not np.any(means[10:]) and np.all(np.abs(means[:10]).sum(1) > 0)


def test_predictions_take_the_most_similar_mean(jule_run):
    workdir, _ = jule_run
    model = jaxae.load(str(workdir))
    images = load_sklearn_digits_arrays()[0][:50]
    codes = model.encode(images)
    means = model.centroids
    cosine = (codes / np.linalg.norm(codes, axis=1, keepdims=True)) @ (means / np.linalg.norm(means, axis=1)[:, None]).T
    np.testing.assert_array_equal(model.predict(images), np.argmax(cosine, 1))


def test_the_clustering_loss_is_the_cross_entropy_of_cosine_similarities():
    rng = np.random.default_rng(0)
    codes, means = rng.normal(size=(6, 4)), rng.normal(size=(8, 4))
    labels = np.array([0, 1, 2, 0, 1, 2])
    loss = np.asarray(jule.clustering_loss(jnp.asarray(codes), jnp.asarray(labels), jnp.asarray(means), 3, 0.5))
    def unit(rows):
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    logits = unit(codes) @ unit(means[:3]).T / 0.5  # Only the 3 live clusters compete.
    expected = np.log(np.exp(logits).sum(1)) - logits[np.arange(6), labels]
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    assert [jule.schedule(40, 10, 3, p) for p in range(4)] == [40, 25, 16, 10]


def test_a_schedule_longer_than_the_phase_is_refused_before_training(tmp_path, digit_sources):
    config = cases.config("jule_mnist")
    config.jule.periods = 5  # Merges at 0, 2, ..., 8 of an 8-step phase.
    with pytest.raises(ConfigError, match="jule.periods=5 merges every jule.update_interval=2 steps need more"):
        train(tmp_path, config, digit_sources)
    assert not (tmp_path / "checkpoints").exists()
    config = cases.config("jule_mnist")
    config.jule.max_memory_mb = 10  # The digits' merges may need 25 MiB.
    with pytest.raises(ConfigError, match="JULE's merges on 1442 training examples may need 25 MiB"):
        train(tmp_path, config, digit_sources)


def test_the_first_clusters_can_come_from_the_images(tmp_path, digit_sources):
    """With jule.first_graph='inputs' the first clusters are the nearest-neighbour components of the
    training pixels (as scikit-learn and SciPy find them), not of the codes."""
    import scipy.sparse
    from scipy.sparse.csgraph import connected_components
    from sklearn.neighbors import NearestNeighbors

    config = cases.config("jule_mnist")
    config.num_steps, config.jule.periods, config.jule.first_graph = 2, 1, "inputs"
    result = train(tmp_path, config, digit_sources)
    pixels = digit_sources[0].arrays["image"].reshape(1442, -1).astype(np.float32) / 255.0
    nearest = NearestNeighbors(n_neighbors=2).fit(pixels).kneighbors(pixels)[1][:, 1]
    graph = scipy.sparse.coo_matrix((np.ones(1442), (np.arange(1442), nearest)), shape=(1442, 1442))
    expected = connected_components(graph, directed=False)[0]
    components = next(r["cluster/components"] for r in read_metrics(str(tmp_path)) if "cluster/components" in r)
    assert abs(components - expected) <= 3  # Equally near neighbours may be picked either way.
    assert sorted(np.unique(jax.device_get(result.state.extra["labels"]))) == list(range(10))
