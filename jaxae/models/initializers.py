"""Weight initialisations by name, so runs can match another library's defaults exactly."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax.linen import initializers

from jaxae.errors import ConfigError


def _fan_in(shape) -> int:
    # Dense kernels are [in, out]; conv kernels [h, w, in, out]: fan-in is everything but the last axis.
    return math.prod(shape[:-1])


def torch_kernel_init(key, shape, dtype=jnp.float32):
    """PyTorch's nn.Linear/nn.Conv2d default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1.0 / math.sqrt(_fan_in(shape))
    return jax.random.uniform(key, shape, dtype, -bound, bound)


def torch_bias_init(fan_in: int):
    """PyTorch's default bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in of the layer's kernel."""

    def init(key, shape, dtype=jnp.float32):
        bound = 1.0 / math.sqrt(fan_in)
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


KERNEL_INITS = {
    "lecun_normal": initializers.lecun_normal(),  # Flax's default.
    "glorot_uniform": initializers.glorot_uniform(),
    "he_normal": initializers.he_normal(),
    "torch": torch_kernel_init,
    "dcgan_normal": initializers.normal(0.02),  # N(0, 0.02), as DCGAN and InfoGAN initialise.
}


def layer_inits(name: str, fan_in: int) -> dict:
    """{'kernel_init': ..., 'bias_init': ...} for a layer whose kernel has `fan_in` inputs."""
    if name not in KERNEL_INITS:
        raise ConfigError(f"model.weight_init={name!r} is unknown; choose one of {sorted(KERNEL_INITS)}")
    bias = torch_bias_init(fan_in) if name == "torch" else initializers.zeros_init()
    return {"kernel_init": KERNEL_INITS[name], "bias_init": bias}
