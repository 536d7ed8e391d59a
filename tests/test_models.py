"""Models by output shapes, parameter counts and the autoencoder contract."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxae.config import defaults
from jaxae.errors import ConfigError
from jaxae.models import build_model


def count_params(tree):
    return sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(tree))


def init(model, shape, batch=3):
    x = jnp.zeros((batch, *shape))
    key = jax.random.PRNGKey(0)
    return jax.jit(model.init)({"params": key, "sample": key}, x)["params"], x


def dense_count(widths):
    return sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))


def test_mlp_vae_parameter_count_and_contract():
    cfg = defaults.get_base_config().model
    model = build_model(cfg, (28, 28, 1))
    params, x = init(model, (28, 28, 1))
    expected = dense_count([784, 512, 256, 40]) + dense_count([20, 256, 512, 784])
    assert count_params(params) == expected
    recon, aux = model.apply({"params": params}, x, train=True, rngs={"sample": jax.random.PRNGKey(1)})
    chex.assert_shape(recon, x.shape)
    assert set(aux) == {"z", "mu", "logvar", "logits"}
    chex.assert_shape([aux["z"], aux["mu"], aux["logvar"]], (3, 20))
    assert float(recon.min()) >= 0 and float(recon.max()) <= 1
    mu, logvar = model.apply({"params": params}, x, method="encode")
    assert mu.shape == logvar.shape == (3, 20)
    assert model.apply({"params": params}, mu, method="decode").shape == x.shape


def test_vae_samples_differ_across_keys_and_repeat_for_one_key():
    model = build_model(defaults.get_base_config().model, (28, 28, 1))
    params, x = init(model, (28, 28, 1))
    x = jax.random.uniform(jax.random.PRNGKey(3), x.shape)
    run = lambda seed: model.apply({"params": params}, x, rngs={"sample": jax.random.PRNGKey(seed)})[1]["z"]
    np.testing.assert_array_equal(run(5), run(5))
    assert not np.allclose(run(5), run(6))


def test_ae_symmetric_by_default_and_overcomplete_allowed():
    cfg = defaults.get_base_config().model
    cfg.name, cfg.hidden, cfg.latent_dim = "ae", (300,), 1000  # 1000 > 784: overcomplete.
    model = build_model(cfg, (28, 28, 1))
    params, x = init(model, (28, 28, 1))
    assert count_params(params) == dense_count([784, 300, 1000]) + dense_count([1000, 300, 784])
    recon, aux = model.apply({"params": params}, x)
    assert recon.shape == x.shape and aux["z"].shape == (3, 1000) and set(aux) == {"z", "logits"}


def test_decoder_widths_can_be_asymmetric():
    cfg = defaults.get_base_config().model
    cfg.name, cfg.hidden, cfg.decoder_hidden, cfg.latent_dim = "ae", (64,), (16, 32), 8
    params, _ = init(build_model(cfg, (8, 8, 1)), (8, 8, 1))
    assert count_params(params) == dense_count([64, 64, 8]) + dense_count([8, 16, 32, 64])


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3)])
def test_conv_vae_shapes(shape):
    cfg = defaults.get_base_config().model
    cfg.architecture, cfg.channels = "conv", (8, 16)
    model = build_model(cfg, shape)
    params, x = init(model, shape)
    recon, aux = model.apply({"params": params}, x, rngs={"sample": jax.random.PRNGKey(0)})
    assert recon.shape == x.shape and aux["z"].shape == (3, 20)
    h, w = shape[0] // 4, shape[1] // 4
    assert params["decoder"]["in"]["kernel"].shape == (20, h * w * 16)


def test_conv_rejects_sizes_that_do_not_halve_evenly():
    cfg = defaults.get_base_config().model
    cfg.architecture, cfg.channels = "conv", (8, 16, 32)  # 28 / 8 is not whole.
    with pytest.raises(ConfigError, match="divisible by 8"):
        build_model(cfg, (28, 28, 1))


def test_unknown_names_raise_config_error():
    cfg = defaults.get_base_config().model
    cfg.name = "transformer"
    with pytest.raises(ConfigError, match="model.name='transformer'"):
        build_model(cfg, (28, 28, 1))


def test_bfloat16_compute_keeps_float32_params_and_outputs():
    model = build_model(defaults.get_base_config().model, (28, 28, 1), "bfloat16")
    params, x = init(model, (28, 28, 1))
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(params))
    recon, aux = model.apply({"params": params}, x, rngs={"sample": jax.random.PRNGKey(0)})
    assert recon.dtype == jnp.float32 and aux["logits"].dtype == jnp.float32


def test_torch_init_matches_pytorch_default_bounds_and_he_normal_its_variance():
    from jaxae.models.initializers import layer_inits

    key = jax.random.PRNGKey(0)
    torch = layer_inits("torch", 400)
    kernel = np.asarray(torch["kernel_init"](key, (400, 300)))
    bias = np.asarray(torch["bias_init"](key, (300,)))
    bound = 1 / np.sqrt(400)
    assert np.abs(kernel).max() <= bound and np.abs(kernel).max() > 0.99 * bound
    assert np.abs(bias).max() <= bound and np.std(bias) > 0.5 * bound / np.sqrt(3)
    he = np.asarray(layer_inits("he_normal", 400)["kernel_init"](key, (400, 300)))
    assert np.var(he) == pytest.approx(2 / 400, rel=0.05)  # Var = 2 / fan_in.
    with pytest.raises(ConfigError, match="model.weight_init='orthogonal' is unknown"):
        layer_inits("orthogonal", 10)
