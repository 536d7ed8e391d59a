"""Every loss against an independent NumPy reference under jit; the KL also by Monte Carlo."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxae import losses
from jaxae.steps import corruptions

RNG = np.random.default_rng(0)


def np_bce_with_logits(logits, targets):
    p = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    nll = -(targets * np.log(p) + (1 - targets) * np.log1p(-p))
    return nll.reshape(len(logits), -1).sum(-1)


def test_squared_error_and_mse_match_numpy():
    a, b = RNG.normal(size=(5, 4, 3, 2)), RNG.normal(size=(5, 4, 3, 2))
    expected = ((a - b) ** 2).reshape(5, -1).sum(-1)
    np.testing.assert_allclose(jax.jit(losses.squared_error)(a, b), expected, rtol=1e-5)
    np.testing.assert_allclose(jax.jit(losses.mse)(a, b), expected / 24, rtol=1e-5)


def test_bce_with_logits_matches_numpy():
    logits = RNG.normal(scale=3, size=(6, 28, 28, 1)).astype(np.float32)
    targets = RNG.uniform(size=(6, 28, 28, 1)).astype(np.float32)
    np.testing.assert_allclose(jax.jit(losses.bce_with_logits)(logits, targets),
                               np_bce_with_logits(logits, targets), rtol=1e-4)


def test_bce_with_logits_is_finite_for_extreme_logits():
    logits = jnp.array([[100.0, -100.0]])
    targets = jnp.array([[0.0, 1.0]])
    np.testing.assert_allclose(losses.bce_with_logits(logits, targets), [200.0], rtol=1e-6)


def test_gaussian_kl_matches_closed_form_in_numpy():
    mu, logvar = RNG.normal(size=(7, 5)), RNG.normal(scale=0.5, size=(7, 5))
    var = np.exp(logvar)
    # KL between diagonal Gaussians written from the general formula with Sigma_1 = I, mu_1 = 0.
    expected = 0.5 * (np.sum(var, -1) + np.sum(mu ** 2, -1) - 5 - np.sum(logvar, -1))
    np.testing.assert_allclose(jax.jit(losses.gaussian_kl)(mu, logvar), expected, rtol=1e-5)


def test_gaussian_kl_agrees_with_monte_carlo():
    mu = np.array([[0.5, -1.0, 2.0]])
    logvar = np.array([[-0.5, 0.3, 0.0]])
    std = np.exp(0.5 * logvar)
    z = mu + std * np.random.default_rng(1).normal(size=(400_000, 3))
    log_q = -0.5 * (((z - mu) / std) ** 2 + np.log(2 * np.pi) + logvar).sum(-1)
    log_p = -0.5 * (z ** 2 + np.log(2 * np.pi)).sum(-1)
    estimate = np.mean(log_q - log_p)
    np.testing.assert_allclose(losses.gaussian_kl(mu, logvar)[0], estimate, rtol=0.01)


def test_weight_penalties_cover_kernels_only():
    params = {"dense": {"kernel": np.array([[1.0, -2.0], [3.0, 0.5]]), "bias": np.array([10.0, 10.0])},
              "conv": {"kernel": np.full((2, 2, 1, 1), -1.0)}}
    assert float(jax.jit(losses.l1_penalty)(params)) == pytest.approx(1 + 2 + 3 + 0.5 + 4)
    assert float(jax.jit(losses.l2_penalty)(params)) == pytest.approx(0.5 * (1 + 4 + 9 + 0.25 + 4))


def test_l1_activity_matches_numpy():
    codes = RNG.normal(size=(4, 9))
    np.testing.assert_allclose(jax.jit(losses.l1_activity)(codes), np.abs(codes).sum(-1), rtol=1e-6)


def test_kl_sparsity_matches_bernoulli_kl():
    rho_hat = np.array([0.01, 0.05, 0.3, 0.9])
    rho = 0.05
    expected = rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat))
    got = jax.jit(lambda r: losses.kl_sparsity(r, target=rho))(rho_hat)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert got[1] == pytest.approx(0.0, abs=1e-7)  # Zero exactly at the target.


@pytest.mark.parametrize("loss", [losses.squared_error, losses.mse, losses.bce_with_logits, losses.gaussian_kl])
def test_shape_mismatch_raises_value_error(loss):
    with pytest.raises(ValueError, match="shapes differ"):
        loss(jnp.zeros((4, 3)), jnp.zeros((4, 2)))


def test_kl_sparsity_rejects_target_outside_unit_interval():
    with pytest.raises(ValueError, match="target"):
        losses.kl_sparsity(jnp.full((3,), 0.5), target=1.5)


def test_corruptions_have_the_requested_statistics():
    key = jax.random.PRNGKey(0)
    x = jnp.full((200, 28, 28, 1), 0.5)
    masked = corruptions.masking_noise(key, x, rate=0.3)
    assert float(jnp.mean(masked == 0)) == pytest.approx(0.3, abs=0.01)
    salted = corruptions.salt_and_pepper(key, x, rate=0.2)
    assert float(jnp.mean(salted == 1)) == pytest.approx(0.1, abs=0.01)
    assert float(jnp.mean(salted == 0)) == pytest.approx(0.1, abs=0.01)
    noisy = corruptions.gaussian_noise(key, x, stddev=0.1)
    assert float(jnp.std(noisy - x)) == pytest.approx(0.1, rel=0.03)
    assert corruptions.corrupt(key, x, kind="none", level=0.0) is x
