"""The deep-clustering families' numerical pieces against NumPy and scikit-learn: DCN's K-means
term and centroid update, DEC's soft assignments, target distribution and KL, VaDE's mixture
responsibilities and KL."""

import jax
import numpy as np
import pytest
from scipy.special import rel_entr

from jaxae.cluster import mixture
from jaxae.trainers.clustering import dcn, dec


def test_dcn_centroid_update_equals_the_papers_update_one_example_at_a_time():
    rng = np.random.default_rng(0)
    centroids, counts = rng.normal(size=(4, 3)), np.array([100.0, 3.0, 1.0, 7.0])
    codes, assignments = rng.normal(size=(9, 3)), np.array([0, 1, 1, 3, 0, 1, 3, 3, 1])
    # Yang et al. (2017), eq. (8): c_k += 1; m_k -= (m_k - f(x_i)) / c_k, example by example.
    expected, expected_counts = centroids.copy(), counts.copy()
    for code, k in zip(codes, assignments):
        expected_counts[k] += 1
        expected[k] -= (expected[k] - code) / expected_counts[k]
    members = np.eye(4)[assignments]
    new, new_counts = jax.jit(dcn.centroid_update)(centroids, counts, members.sum(0), members.T @ codes)
    np.testing.assert_allclose(np.asarray(new), expected, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(new_counts), expected_counts)
    np.testing.assert_allclose(np.asarray(new)[2], centroids[2], rtol=1e-6)  # No member: unmoved.


def test_dcn_kmeans_term_is_the_squared_distance_to_the_assigned_centroid():
    rng = np.random.default_rng(1)
    codes, centroids, assignments = rng.normal(size=(6, 5)), rng.normal(size=(3, 5)), np.array([2, 0, 1, 1, 0, 2])
    expected = [np.sum((c - centroids[k]) ** 2) for c, k in zip(codes, assignments)]
    np.testing.assert_allclose(np.asarray(jax.jit(dcn.kmeans_term)(codes, centroids, assignments)), expected, rtol=1e-5)


def numpy_soft_assignments(codes, centroids, alpha):
    kernel = (1 + ((codes[:, None] - centroids[None]) ** 2).sum(-1) / alpha) ** (-(alpha + 1) / 2)
    return kernel / kernel.sum(1, keepdims=True)


@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_dec_soft_assignments_and_targets_equal_the_papers_formulas(alpha):
    rng = np.random.default_rng(2)
    codes, centroids = rng.normal(size=(20, 4)), rng.normal(size=(5, 4))
    q = numpy_soft_assignments(codes, centroids, alpha)
    np.testing.assert_allclose(np.asarray(jax.jit(dec.soft_assignments)(codes, centroids, alpha)), q, rtol=1e-5)
    weight = q**2 / q.sum(0)
    p = weight / weight.sum(1, keepdims=True)
    np.testing.assert_allclose(np.asarray(jax.jit(dec.target_distribution)(q)), p, rtol=1e-5)
    # Sharper than q: each row's largest entry grows.
    assert np.all(p.max(1) >= q.max(1) - 1e-7)
    np.testing.assert_allclose(np.asarray(jax.jit(dec.kl_divergence)(p, q)), rel_entr(p, q).sum(1), rtol=1e-4, atol=1e-7)


def test_dec_soft_assignments_stay_finite_and_normalised_for_far_away_codes():
    codes = np.array([[1e6, -1e6], [3e4, 0.0]], np.float32)
    q = np.asarray(dec.soft_assignments(codes, np.array([[0.0, 0.0], [1.0, 1.0], [-5.0, 2.0]], np.float32)))
    assert np.all(np.isfinite(q)) and np.allclose(q.sum(1), 1.0)


def random_mixture(rng, k=4, d=3):
    return {"logits": rng.normal(size=k).astype(np.float32), "means": rng.normal(scale=3, size=(k, d)).astype(np.float32),
            "log_vars": rng.normal(scale=0.5, size=(k, d)).astype(np.float32)}


def sklearn_mixture(params):
    """scikit-learn's GaussianMixture holding the same diagonal mixture (the independent reference)."""
    from sklearn.mixture import GaussianMixture

    weights = np.exp(params["logits"] - params["logits"].max())
    gmm = GaussianMixture(len(weights), covariance_type="diag")
    gmm.weights_ = (weights / weights.sum()).astype(np.float64)
    gmm.means_ = params["means"].astype(np.float64)
    gmm.covariances_ = np.exp(params["log_vars"]).astype(np.float64)
    gmm.precisions_cholesky_ = 1 / np.sqrt(gmm.covariances_)
    return gmm


def test_mixture_responsibilities_and_likelihood_equal_scikit_learn():
    rng = np.random.default_rng(3)
    params, z = random_mixture(rng), rng.normal(scale=3, size=(30, 3)).astype(np.float32)
    gmm = sklearn_mixture(params)
    gamma = np.exp(np.asarray(jax.jit(mixture.log_responsibilities)(z, params)))
    np.testing.assert_allclose(gamma, gmm.predict_proba(z), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.asarray(mixture.log_likelihood(z, params)), gmm.score_samples(z), rtol=1e-5)


def test_responsibilities_sum_to_one_and_stay_finite_for_far_away_codes():
    """In probability space every density underflows to 0 here and the ratio is 0/0."""
    params = random_mixture(np.random.default_rng(4))
    far = np.array([[1e3, -1e3, 5e2], [4e2, 0.0, 0.0]], np.float32)
    log_gamma = np.asarray(mixture.log_responsibilities(far, params))
    assert np.all(np.isfinite(log_gamma)) and np.allclose(np.exp(log_gamma).sum(1), 1.0)
    assert np.all(np.exp(log_gamma).max(1) > 0.99)  # The nearest component (in variance units) takes it.


def test_vade_kl_equals_its_closed_form_in_numpy():
    rng = np.random.default_rng(5)
    params = random_mixture(rng)
    mu, logvar = rng.normal(size=(6, 3)), rng.normal(scale=0.3, size=(6, 3))
    z = mu + np.exp(0.5 * logvar) * rng.normal(size=(6, 3))
    gmm = sklearn_mixture(params)
    gamma, pi = gmm.predict_proba(z), gmm.weights_
    var_c, mean_c = gmm.covariances_, gmm.means_
    # Jiang et al. (2017), eq. 12, without the likelihood term and the cancelling log(2 pi) terms.
    expected = []
    for n in range(6):
        cross = 0.5 * np.sum(np.log(var_c) + (np.exp(logvar[n]) + (mu[n] - mean_c) ** 2) / var_c, axis=1)
        expected.append(np.sum(gamma[n] * (cross - np.log(pi) + np.log(gamma[n]))) - 0.5 * np.sum(1 + logvar[n]))
    kl = jax.jit(mixture.vade_kl)(z.astype(np.float32), mu.astype(np.float32), logvar.astype(np.float32), params)
    np.testing.assert_allclose(np.asarray(kl), expected, rtol=1e-4, atol=1e-4)
