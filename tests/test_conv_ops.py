"""The patch-product convolutions (`conv_ops`, used on CPU) against XLA's native convolutions:
outputs and gradients on random inputs and shapes, and models whose parameters do not depend on
the choice."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import conv_vae_mnist
from jaxae.errors import ConfigError
from jaxae.models import build_model, conv_ops, validate_model_config

# (height and width, input channels, output channels) of the stride-2 convolution; the transposed
# convolution maps back, output channels to input channels. Odd channel counts, 8x8 and 32x32 and a
# rectangle; 32 -> 1 and 9 -> 7 take the transposed convolution's two formulations.
SHAPES = [((28, 28), 1, 32), ((14, 14), 32, 64), ((8, 8), 3, 5), ((32, 32), 7, 9), ((6, 10), 2, 3)]


def _random(key, shape):
    return jax.random.normal(key, shape, jnp.float32)


def _compare(native, matmul, x, kernel, key):
    """Outputs and both gradients of the two formulations, for one random output cotangent; each
    compiled as a run compiles it, not op by op (slower)."""
    def output_and_gradients(f, cotangent):
        y, vjp = jax.vjp(f, x, kernel)
        return y, vjp(cotangent)

    cotangent = _random(key, jax.eval_shape(native, x, kernel).shape)
    y_native, grads_native = jax.jit(output_and_gradients, static_argnums=0)(native, cotangent)
    y_matmul, grads_matmul = jax.jit(output_and_gradients, static_argnums=0)(matmul, cotangent)
    chex.assert_trees_all_close(y_matmul, y_native, atol=1e-4, rtol=1e-4)
    chex.assert_trees_all_close(grads_matmul, grads_native, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("size,channels,out", SHAPES)
def test_the_stride_two_convolution_equals_the_native_one(size, channels, out):
    keys = jax.random.split(jax.random.PRNGKey(sum(size) + channels), 3)
    x, kernel = _random(keys[0], (3, *size, channels)), _random(keys[1], (4, 4, channels, out))
    matmul = lambda x, k: conv_ops.from_channels_first(conv_ops.conv(conv_ops.to_channels_first(x), k))
    _compare(conv_ops.native_conv, matmul, x, kernel, keys[2])


@pytest.mark.parametrize("size,channels,out", SHAPES)
def test_the_transposed_convolution_equals_the_native_one(size, channels, out):
    keys = jax.random.split(jax.random.PRNGKey(sum(size) + out), 3)
    half = (size[0] // 2, size[1] // 2)
    x, kernel = _random(keys[0], (3, *half, out)), _random(keys[1], (4, 4, out, channels))
    matmul = lambda x, k: conv_ops.from_channels_first(conv_ops.conv_transpose(conv_ops.to_channels_first(x), k))
    _compare(conv_ops.native_conv_transpose, matmul, x, kernel, keys[2])


def test_the_transposed_convolution_undoes_the_shapes_of_the_convolution():
    x = jnp.ones((5, 2, 12, 8))
    down = conv_ops.conv(x, jnp.ones((4, 4, 5, 3)))
    assert down.shape == (3, 2, 6, 4)
    assert conv_ops.conv_transpose(down, jnp.ones((4, 4, 3, 5))).shape == x.shape


@pytest.mark.parametrize("image_shape,channels", [((28, 28, 1), (32, 64)), ((32, 32, 3), (8, 16, 5)), ((8, 8, 1), (4,))])
def test_a_conv_vae_has_the_same_parameters_outputs_and_gradients_either_way(image_shape, channels):
    config = conv_vae_mnist.get_config()
    config.model.channels = channels
    models = {}
    for impl in ("native", "matmul"):
        config.model.conv_impl = impl
        models[impl] = build_model(config.model, image_shape)
    images = jax.random.uniform(jax.random.PRNGKey(0), (4, *image_shape))
    eps = jax.random.normal(jax.random.PRNGKey(1), (4, config.model.latent_dim))
    # Compiled, as a run does: op by op, the file took 38 s instead of 24 s on 2 cores.
    params = {impl: jax.jit(model.init)(jax.random.PRNGKey(2), images, eps=eps)["params"] for impl, model in models.items()}
    chex.assert_trees_all_equal(params["native"], params["matmul"])  # Checkpoints do not depend on the choice.

    def loss(params, model):
        _, aux = model.apply({"params": params}, images, train=True, eps=eps)
        return jnp.sum(aux["logits"] ** 2) + jnp.sum(aux["mu"]) + jnp.sum(aux["logvar"])

    value_and_grad = jax.jit(jax.value_and_grad(loss), static_argnums=1)
    value_native, grads_native = value_and_grad(params["native"], models["native"])
    value_matmul, grads_matmul = value_and_grad(params["native"], models["matmul"])
    np.testing.assert_allclose(value_matmul, value_native, rtol=1e-5)
    chex.assert_trees_all_close(grads_matmul, grads_native, rtol=2e-4, atol=2e-4)


def test_auto_takes_the_patch_products_on_cpu_and_unknown_names_are_refused():
    assert jax.default_backend() == "cpu" and conv_ops.resolve("auto") == "matmul"
    assert conv_ops.resolve("native") == "native"
    config = conv_vae_mnist.get_config()
    config.model.conv_impl = "winograd"
    with pytest.raises(ConfigError, match="model.conv_impl='winograd' is unknown"):
        validate_model_config(config)
