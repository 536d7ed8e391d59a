"""Adversarial autoencoders: clustering with a categorical code and a style code, each pushed to
its prior by a discriminator; what jaxae.load offers; the regularisation phase's update. (1 against 8
devices and resuming: tests/test_every_family.py, on the same run.)"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxae
from jaxae.data import host, sources
from jaxae.devices import parallel
from jaxae.errors import DataError
from jaxae.metrics import clustering as cluster_metrics
from jaxae.runs.metric_writers import read_metrics
import cases


@pytest.fixture(scope="module")
def digits():
    return cases.prepared("tfds_digits")


@pytest.fixture(scope="module")
def aae_one():
    return cases.trained("aae_cluster_mnist")


def test_the_adversarial_autoencoder_reports_clusters_and_load_encodes(aae_one):
    metrics = aae_one.eval_metrics
    assert {"eval/bce", "eval/mse", "eval/cluster_acc", "eval/purity", "eval/nmi"} <= set(metrics)
    assert metrics["eval/purity"] >= metrics["eval/cluster_acc"] - 1e-9  # Many-to-one is never worse.
    records = [r for r in read_metrics(aae_one.workdir) if "train/d_loss" in r]
    assert records and all(np.isfinite(r["train/recon"]) and "train/d_category" in r for r in records)
    model = jaxae.load(aae_one.workdir, mesh=parallel.make_mesh(1))
    images = sources.open_tfds("sklearn_digits", "test")
    digits = host.read_all(images, ["image"])["image"][:7]
    probabilities = model.predict_proba(digits)
    assert probabilities.shape == (7, 10) and np.allclose(probabilities.sum(1), 1, atol=1e-5)
    assert model.encode(digits).shape == (7, 4) and model.generate(3).shape == (3, 8, 8, 1)
    # decode and scores (issue 27, finding 11): the reconstruction through (style, category), its Bernoulli loss.
    reconstruction = model.reconstruct(digits)
    np.testing.assert_allclose(model.decode(model.encode(digits), probabilities), reconstruction, atol=1e-6)
    p, x = np.clip(reconstruction.astype(np.float64), 1e-7, 1 - 1e-7), digits / 255.0
    expected = -(x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(7, -1).sum(1)
    np.testing.assert_allclose(model.scores(digits), expected, rtol=1e-3)
    assert model.decode(np.zeros((2, 4)), np.array([0, 9])).shape == (2, 8, 8, 1)
    with pytest.raises(DataError, match="give categories"):
        model.decode(np.zeros((2, 4)))


def test_encode_writes_an_adversarial_autoencoders_clusters_and_scores(aae_one, tmp_path):
    from jaxae.tools import encode

    assert encode.main(["--workdir", aae_one.workdir, "--out", str(tmp_path / "c.npz")]) == 0
    saved = np.load(tmp_path / "c.npz")
    assert set(saved) == {"codes", "scores", "clusters", "labels"}
    model = jaxae.load(aae_one.workdir)
    test = host.read_all(sources.open_tfds("sklearn_digits", "test"), ["image"])["image"]
    np.testing.assert_array_equal(saved["clusters"], model.predict(test))


def test_the_regularisation_update_moves_the_encoder_alone(digits):
    from jaxae.trainers import create_trainer
    from jaxae.trainers.adversarial import players

    trainer = create_trainer(cases.config("aae_cluster_mnist"), digits[0].spec, len(digits[0]))
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    grads = jax.tree.map(jnp.ones_like, state.params["autoencoder"]["encoder"])
    moved, _ = players.update(trainer, "encoder", state, grads, {"loss": jnp.zeros(())},
                              at=("autoencoder", "encoder"))
    chex.assert_trees_all_equal(moved.params["autoencoder"]["decoder"], state.params["autoencoder"]["decoder"])
    chex.assert_trees_all_equal(moved.params["discriminator"], state.params["discriminator"])
    chex.assert_trees_all_equal(moved.opt_state["autoencoder"], state.opt_state["autoencoder"])
    changed = jax.tree.map(lambda a, b: bool(np.all(a != b)), moved.params["autoencoder"]["encoder"],
                           state.params["autoencoder"]["encoder"])
    assert all(jax.tree.leaves(changed))


def test_purity_lets_clusters_share_a_label():
    table = np.array([[5, 3, 0], [0, 2, 4]])  # 3 clusters, 2 labels.
    assert cluster_metrics.purity(table) == pytest.approx((5 + 3 + 4) / 14)
