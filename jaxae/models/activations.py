"""Activation functions chosen by name from the config."""

import flax.linen as nn

from jaxae.errors import ConfigError

ACTIVATIONS = {
    "relu": nn.relu,
    "leaky_relu": nn.leaky_relu,
    "elu": nn.elu,
    "gelu": nn.gelu,
    "silu": nn.silu,
    "tanh": nn.tanh,
    "sigmoid": nn.sigmoid,
    "softplus": nn.softplus,
    "identity": lambda x: x,
}


def get_activation(name: str):
    """Returns the activation called `name`; raises ConfigError listing the known names."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ConfigError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}") from None
