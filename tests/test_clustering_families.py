"""The deep-clustering families through the shared loop, on scikit-learn's digits: each trains
pretraining -> K-means -> clustering and reports ACC/NMI/ARI; DCN's counts are batch statistics of
every step; a pretrained run initialises a clustering run. (1 against 8 devices, and resuming
around DEC's phase start and refresh: tests/test_every_family.py, on the same runs.)"""

import os

import chex
import jax
import numpy as np
import pytest

import jaxae
from jaxae.data.builders import load_sklearn_digits_arrays
from jaxae.errors import ConfigError
from jaxae.runs.metric_writers import read_metrics
import cases
from helpers import tiny, train


def test_dec_pretrains_clusters_refreshes_and_reports():
    result = cases.trained("dec_mnist")
    workdir = result.workdir
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


def test_dcns_counts_grew_by_every_example_of_every_step():
    """A centroid's count is a batch statistic (reduced over the devices on several)."""
    counts = jax.device_get(cases.trained("dcn_mnist").state.extra["counts"])
    assert counts.sum() == pytest.approx(10 * 1.0 + 8 * 32)  # dcn.initial_count each, then 8 batches of 32.


def test_a_pretrained_run_initialises_clustering_and_load_predicts(tmp_path, digit_sources):
    pretrained = train(tmp_path / "ae_kmeans", tiny("ae_kmeans_mnist"), digit_sources)
    assert 0.1 <= pretrained.eval_metrics["eval/cluster_acc"] <= 1
    config = cases.config("dcn_mnist")
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
    # Every seed of a several-seed run starts from it: AE + K-means on it is a run of 0 steps, so the
    # state it ends with holds the pretrained weights themselves, for each seed.
    seeds = train(tmp_path / "seeds", tiny("ae_kmeans_mnist", num_seeds=2, cluster__init_from=str(tmp_path / "ae_kmeans")),
                  digit_sources)
    pretrained_params = jaxae.load(str(tmp_path / "ae_kmeans")).params
    assert seeds.step == 0
    for seed in range(2):
        chex.assert_trees_all_equal(jax.tree.map(lambda leaf: leaf[seed], seeds.state.params["autoencoder"]),
                                    pretrained_params)
    assert read_metrics(str(tmp_path / "seeds"))[0]["kmeans/inertia/seed_0"] == pytest.approx(
        next(r["kmeans/inertia"] for r in ae_records if "kmeans/inertia" in r), rel=1e-5)
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
    config = cases.config("dcn_mnist")
    config.cluster.init_from = str(tmp_path / "nothing")
    with pytest.raises(ConfigError, match="holds no jaxae run"):
        train(tmp_path / "a", config, digit_sources)
    train(tmp_path / "ae", tiny("ae_kmeans_mnist", num_steps=1, pretrain__num_steps=2), digit_sources)
    config = cases.config("dcn_mnist")
    config.cluster.init_from = str(tmp_path / "ae")
    config.model.latent_dim = 6
    with pytest.raises(ConfigError, match="trained another model .*model.latent_dim: 4 there, 6 here"):
        train(tmp_path / "b", config, digit_sources)
    assert not os.path.exists(tmp_path / "b" / "checkpoints")


def test_vade_trains_standalone_pretraining_its_mean_code_first(tmp_path, digit_sources):
    result = train(tmp_path, tiny("vade_mnist", num_steps=4), digit_sources)
    records = read_metrics(str(tmp_path))
    pretraining = [r for r in records if "train/loss" in r and r["step"] <= 10]
    assert pretraining and all("train/kl" not in r for r in pretraining)  # An autoencoder on the mean code.
    assert pretraining[-1]["train/recon"] < pretraining[0]["train/recon"]
    assert any("train/kl" in r for r in records if r["step"] > 10)  # Then the ELBO.
    assert np.isfinite(next(r["cluster/gmm_log_likelihood"] for r in records if "cluster/gmm_log_likelihood" in r))
    assert np.isfinite(result.eval_metrics["eval/cluster_acc"])
