"""The deep-clustering families through the shared loop, on scikit-learn's digits: each trains
pretraining -> K-means -> clustering and reports ACC/NMI/ARI; DCN on 1 and 8 devices, jit and
pmap, gives the same centroids and assignments; DEC resumes bit-exactly when killed before, right
after, or during a phase start or refresh; a pretrained run initialises a clustering run."""

import os

import chex
import jax
import numpy as np
import pytest

import jaxae
from jaxae.data.builders import load_sklearn_digits_arrays
from jaxae.devices import parallel
from jaxae.errors import ConfigError
from jaxae.runs.metric_writers import read_metrics
from helpers import assert_resumes_exactly, dec_config, tiny, train


@pytest.fixture(scope="module")
def dec_run(tmp_path_factory, digit_sources):
    workdir = tmp_path_factory.mktemp("dec")
    return workdir, train(workdir, dec_config(), digit_sources)


def test_dec_pretrains_clusters_refreshes_and_reports(dec_run):
    workdir, result = dec_run
    records = read_metrics(str(workdir))
    assert [r["step"] for r in records if "cluster/inertia" in r] == [10]  # K-means at the phase start.
    assert [r["step"] for r in records if "cluster/converged" in r] == [10, 14, 18]  # Start, then every 4.
    converged = [r["step"] for r in records if r.get("cluster/converged") == 1.0]
    after = [r for r in records if "train/skipped" in r and converged and r["step"] > converged[0]]
    # Once fewer than `tolerance` of the labels change, steps change nothing and count as skipped.
    assert all(r["train/skipped"] == 1.0 for r in after)
    assert {"eval/cluster_acc", "eval/nmi", "eval/ari", "eval/mse"} <= set(result.eval_metrics)
    assert 0.1 <= result.eval_metrics["eval/cluster_acc"] <= 1
    state = jax.device_get(result.state)
    targets = state.extra["targets"]
    assert targets.shape == (1442, 10) and np.allclose(targets.sum(1), 1, atol=1e-5)
    # Pretraining trains the autoencoder only; the KL phase reports its own loss.
    assert any("train/kl" in r for r in records if r["step"] > 10)
    assert not any("train/kl" in r for r in records if r["step"] <= 10)


@pytest.mark.parametrize("keep_through", [10, 12])
def test_dec_resumes_bit_exactly_around_the_phase_start_and_a_refresh(tmp_path, digit_sources, dec_run, keep_through):
    """Killed right after the phase start was saved (10), or while the refresh of step 14 ran (last
    save 12; refreshes are replayed, not saved): the resumed run ends exactly as the uninterrupted
    one. (Killed before a start hook: tests/test_contract.py.)"""
    workdir, result = dec_run
    assert_resumes_exactly(tmp_path, workdir, result, dec_config(), digit_sources, keep_through)


def dcn_config(mode="jit"):
    return tiny("dcn_mnist", num_steps=8, log_every=4, checkpoint_every=4, optimizer__name="sgd",
                optimizer__learning_rate=0.01, optimizer__per_pixel=False, cluster__optimizer__name="sgd", cluster__optimizer__learning_rate=0.01,
                dcn__initial_count=1.0, parallel__mode=mode)


@pytest.fixture(scope="module")
def dcn_one(tmp_path_factory, digit_sources):
    return train(tmp_path_factory.mktemp("dcn"), dcn_config(), digit_sources)


@pytest.mark.parametrize("mode", ["jit", "pmap"])
def test_dcn_on_eight_devices_gives_the_centroids_and_assignments_of_one(tmp_path, digit_sources, dcn_one, mode):
    eight = train(tmp_path, dcn_config(mode), digit_sources, parallel.make_mesh(8))
    one_extra, eight_extra = jax.device_get(dcn_one.state.extra), jax.device_get(eight.state.extra)
    chex.assert_trees_all_close(one_extra, eight_extra, rtol=1e-4, atol=1e-5)
    # The counts grew by every example of every step: batch statistics reduced over devices.
    assert one_extra["counts"].sum() == pytest.approx(10 * 1.0 + 8 * 32)
    test_images = load_sklearn_digits_arrays()[0][:64]
    mesh = parallel.make_mesh(1)
    one_model = jaxae.load(dcn_one.workdir, mesh=mesh)
    np.testing.assert_array_equal(one_model.predict(test_images), jaxae.load(eight.workdir, mesh=mesh).predict(test_images))
    assert dcn_one.eval_metrics == pytest.approx(eight.eval_metrics, rel=1e-4)


def test_a_pretrained_run_initialises_clustering_and_load_predicts(tmp_path, digit_sources):
    pretrained = train(tmp_path / "ae_kmeans", tiny("ae_kmeans_mnist"), digit_sources)
    assert 0.1 <= pretrained.eval_metrics["eval/cluster_acc"] <= 1
    config = dcn_config()
    config.cluster.init_from = str(tmp_path / "ae_kmeans")
    result = train(tmp_path / "dcn", config, digit_sources)
    records = read_metrics(str(tmp_path / "dcn"))
    assert records[0]["step"] == 0 and "cluster/inertia" in records[0]  # No pretraining phase: K-means first.
    assert result.step == 8
    # The clustering started from the pretrained encoder: K-means on its codes has the same inertia.
    ae_records = read_metrics(str(tmp_path / "ae_kmeans"))
    # K-means's phase is its start hook; its one step records nothing (no bare 'train/skipped=1' line).
    assert not [r for r in ae_records if r["step"] > 10 and any(k.startswith("train/") for k in r)]
    assert records[0]["cluster/inertia"] == pytest.approx(
        next(r["kmeans/inertia"] for r in ae_records if "kmeans/inertia" in r), rel=1e-5)
    model = jaxae.load(str(tmp_path / "dcn"))
    images = load_sklearn_digits_arrays()[0][:20]
    clusters = model.predict(images)
    assert clusters.shape == (20,) and clusters.dtype == np.int32 and clusters.max() < 10
    codes = model.encode(images)
    np.testing.assert_array_equal(clusters, np.argmin(((codes[:, None] - model.centroids[None]) ** 2).sum(-1), -1))
    # VaDE takes the same autoencoder (its encoder widened to a mean and a log-variance head).
    vade = train(tmp_path / "vade", tiny("vade_mnist", num_steps=4, cluster__init_from=str(tmp_path / "ae_kmeans")),
                 digit_sources)
    vade_records = read_metrics(str(tmp_path / "vade"))
    assert vade_records[0]["cluster/inertia"] == pytest.approx(records[0]["cluster/inertia"], rel=1e-5)
    assert np.isfinite(vade_records[0]["cluster/gmm_log_likelihood"]) and 0.1 <= vade.eval_metrics["eval/cluster_acc"]
    vade_model = jaxae.load(str(tmp_path / "vade"))
    mixture_params = jax.device_get(vade.state.params["mixture"])
    from jaxae.cluster import mixture
    responsible = np.argmax(np.asarray(mixture.log_responsibilities(vade_model.encode(images), mixture_params)), -1)
    np.testing.assert_array_equal(vade_model.predict(images), responsible)


def test_init_from_a_folder_without_a_run_or_of_another_model_is_refused_before_training(tmp_path, digit_sources):
    config = dcn_config()
    config.cluster.init_from = str(tmp_path / "nothing")
    with pytest.raises(ConfigError, match="holds no jaxae run"):
        train(tmp_path / "a", config, digit_sources)
    train(tmp_path / "ae", tiny("ae_kmeans_mnist", num_steps=1, pretrain__num_steps=2), digit_sources)
    config = dcn_config()
    config.cluster.init_from = str(tmp_path / "ae")
    config.model.latent_dim = 6
    with pytest.raises(ConfigError, match="trained another model .*model.latent_dim: 4 there, 6 here"):
        train(tmp_path / "b", config, digit_sources)
    assert not os.path.exists(tmp_path / "b" / "checkpoints")


def test_dec_under_pmap_on_eight_devices_matches_jit_on_one(tmp_path, digit_sources):
    """DEC's step (a `lax.cond` once converged, targets looked up by index) under pmap."""
    config = dec_config()
    config.optimizer.name, config.cluster.optimizer.name = "sgd", "sgd"
    one = train(tmp_path / "one", config, digit_sources)
    config.parallel.mode = "pmap"
    eight = train(tmp_path / "eight", config, digit_sources, parallel.make_mesh(8))
    chex.assert_trees_all_close(jax.device_get(one.state.params), jax.device_get(eight.state.params),
                                rtol=1e-4, atol=1e-5)
    assert one.eval_metrics == pytest.approx(eight.eval_metrics, rel=1e-4)


def test_vade_trains_standalone_pretraining_its_mean_code_first(tmp_path, digit_sources):
    result = train(tmp_path, tiny("vade_mnist", num_steps=4), digit_sources)
    records = read_metrics(str(tmp_path))
    pretraining = [r for r in records if "train/loss" in r and r["step"] <= 10]
    assert pretraining and all("train/kl" not in r for r in pretraining)  # An autoencoder on the mean code.
    assert pretraining[-1]["train/recon"] < pretraining[0]["train/recon"]
    assert any("train/kl" in r for r in records if r["step"] > 10)  # Then the ELBO.
    assert np.isfinite(next(r["cluster/gmm_log_likelihood"] for r in records if "cluster/gmm_log_likelihood" in r))
    assert np.isfinite(result.eval_metrics["eval/cluster_acc"])
