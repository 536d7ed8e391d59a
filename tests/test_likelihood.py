"""The importance-weighted log-likelihood: its weights against SciPy's densities, its chunked scan
against one log-sum-exp, the bound tightening as K grows on a fixed model, eval/iw_nll beside the
ELBO, and the IWAE objective in training."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import norm

import jaxae
from jaxae.config.validation import validate_config
from jaxae.data import host, sources
from jaxae.engine import loop
from jaxae.errors import ConfigError
from jaxae.losses import likelihood
from helpers import tiny


def linear_bernoulli(weights, bias, targets):
    """A decoder whose logits are z W + b, as decode_nll takes it, and the same in NumPy."""
    def nll(z):
        logits = z @ weights + bias
        return jnp.sum(jnp.maximum(logits, 0) - logits * targets + jnp.log1p(jnp.exp(-jnp.abs(logits))), axis=-1)

    def nll_numpy(z):
        p = 1 / (1 + np.exp(-(z @ np.asarray(weights, np.float64) + np.asarray(bias, np.float64))))
        return -np.sum(targets * np.log(p) + (1 - targets) * np.log(1 - p), axis=-1)

    return nll, nll_numpy


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    weights, bias = rng.normal(size=(3, 6)).astype(np.float32) * 0.5, rng.normal(size=6).astype(np.float32)
    targets = (rng.random((4, 6)) < 0.5).astype(np.float32)
    mu, logvar = rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=(4, 3)).astype(np.float32) * 0.3
    return weights, bias, targets, mu, logvar


def test_log_weights_equal_scipys_densities(problem):
    weights, bias, targets, mu, logvar = problem
    nll, nll_numpy = linear_bernoulli(weights, bias, targets)
    eps = np.random.default_rng(1).normal(size=(5, 4, 3)).astype(np.float32)
    got = likelihood.log_weights(nll, jnp.asarray(mu), jnp.asarray(logvar), jnp.asarray(eps))
    sigma = np.exp(0.5 * logvar.astype(np.float64))
    z = mu + sigma * eps
    expected = (-np.stack([nll_numpy(z[k]) for k in range(5)]) + norm.logpdf(z).sum(-1)
                - norm.logpdf(z, loc=mu, scale=sigma).sum(-1))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_the_chunked_estimate_is_one_log_sum_exp_over_every_draw(problem):
    weights, bias, targets, mu, logvar = problem
    nll, _ = linear_bernoulli(weights, bias, targets)
    keys = jax.random.split(jax.random.key(0), 4)
    got = likelihood.iw_log_likelihood(nll, jnp.asarray(mu), jnp.asarray(logvar), keys, samples=60, chunk=25)
    # chunk 25 does not divide 60: three steps of 25 draws, the last 15 left out. The same draws, at once:
    eps = jnp.concatenate([jax.vmap(lambda key: jax.random.normal(jax.random.fold_in(key, i), (25, 3)))(keys)
                           for i in range(3)], axis=1)[:, :60]
    weights_all = np.asarray(likelihood.log_weights(nll, jnp.asarray(mu), jnp.asarray(logvar), jnp.swapaxes(eps, 0, 1)))
    np.testing.assert_allclose(got, logsumexp(weights_all.astype(np.float64), axis=0) - np.log(60), rtol=1e-5)


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    config = tiny("vae_mnist", num_steps=60, eval_every=60, checkpoint_every=60, loss__eval_iw_samples=50)
    return loop.run(config, str(tmp_path_factory.mktemp("vae")))


def test_the_bound_tightens_as_k_grows_and_eval_reports_it(vae_run):
    metrics = vae_run.eval_metrics
    assert metrics["eval/iw_nll"] < metrics["eval/neg_elbo"]  # 50 draws against one.
    model = jaxae.load(vae_run.workdir)
    images = host.read_all(sources.open_tfds("mnist_5k", "test"), ["image"])["image"][:300]
    nll = {k: -model.log_likelihood(images, samples=k).mean() for k in (1, 10, 100)}
    assert nll[1] > nll[10] > nll[100]
    assert nll[1] == pytest.approx(metrics["eval/neg_elbo"], rel=0.05)  # K = 1 is the ELBO (other digits, draws).


def test_the_iwae_objective_with_equal_draws_is_one_draws_elbo_by_scipy():
    from jaxae.trainers import create_trainer

    config = tiny("vae_mnist", loss__iw_samples=4)
    spec = sources.open_tfds("mnist_5k", "test").spec
    trainer = create_trainer(config, spec, 1000)
    params = jax.jit(trainer.init)(jax.random.key(0)).params
    rng = np.random.default_rng(0)
    targets = (rng.random((3, 28, 28, 1)) < 0.3).astype(np.float32)
    draw = rng.normal(size=(3, 4)).astype(np.float32)
    loss, _, _ = trainer.ae.iw_terms(params, jnp.asarray(targets), jnp.asarray(targets),
                                  jnp.asarray(np.repeat(draw[:, None], 4, axis=1)), jnp.zeros((), jnp.int32))
    mu, logvar = (np.asarray(a, np.float64) for a in trainer.ae.model.apply({"params": params}, targets, method="encode"))
    sigma = np.exp(0.5 * logvar)
    z = mu + sigma * draw
    logits = np.asarray(trainer.ae.model.apply({"params": params}, jnp.asarray(z, jnp.float32), method="decode_logits"),
                        np.float64).reshape(3, -1)
    x = targets.reshape(3, -1)
    nll = np.sum(np.logaddexp(0, logits) - x * logits, axis=1)
    expected = np.mean(nll + norm.logpdf(z, mu, sigma).sum(1) - norm.logpdf(z).sum(1))
    assert float(loss) == pytest.approx(expected, rel=1e-4)


def test_the_iwae_objective_trains_and_needs_a_bernoulli_vae(tmp_path):
    result = loop.run(tiny("vae_mnist", loss__iw_samples=4), str(tmp_path))
    assert np.isfinite(result.eval_metrics["eval/neg_elbo"])
    records = [line for line in open(f"{tmp_path}/metrics.jsonl") if "train/neg_iw_bound" in line]
    assert records
    with pytest.raises(ConfigError, match="loss.iw_samples=4 is for a VAE with a Bernoulli decoder of binary images"):
        validate_config(tiny("ae_mnist", loss__iw_samples=4))
    with pytest.raises(ConfigError, match="loss.eval_iw_samples=10 is for a VAE"):
        validate_config(tiny("vae_mnist", loss__eval_iw_samples=10, data__binarize="none"))
    with pytest.raises(ConfigError, match="importance weighting is for the autoencoder family's VAEs"):
        validate_config(tiny("vade_mnist", loss__iw_samples=2))
