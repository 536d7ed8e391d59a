"""Dense encoders and decoders: deep, under- or overcomplete, symmetric by default."""

from __future__ import annotations

import math
from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from jaxae.models.activations import get_activation
from jaxae.models.initializers import layer_inits


class MLPEncoder(nn.Module):
    """Flattens images and maps them through dense layers to `features` outputs.

    Attributes:
      hidden: widths of the hidden layers, first to last, e.g. (512, 256).
      features: output width (the code size; twice that for a Gaussian code's mean and log-variance).
      activation: name of the hidden activation (see `activations.ACTIVATIONS`).
      dtype: compute dtype; parameters stay float32.
      weight_init: initialisation scheme by name (see `initializers.KERNEL_INITS`).
    """

    hidden: Sequence[int]
    features: int
    activation: str = "relu"
    dtype: Any = jnp.float32
    weight_init: str = "lecun_normal"

    @nn.compact
    def __call__(self, x):
        """x: [batch, height, width, channels] -> [batch, features]."""
        act = get_activation(self.activation)
        h = x.reshape((x.shape[0], -1)).astype(self.dtype)
        for i, width in enumerate(self.hidden):
            h = act(nn.Dense(width, dtype=self.dtype, name=f"hidden_{i}", **layer_inits(self.weight_init, h.shape[-1]))(h))
        return nn.Dense(self.features, dtype=self.dtype, name="out", **layer_inits(self.weight_init, h.shape[-1]))(h)


class MLPDecoder(nn.Module):
    """Maps codes through dense layers back to images (pre-activation outputs, e.g. logits).

    Attributes:
      hidden: widths of the hidden layers, first to last, e.g. (256, 512) mirrors an encoder's (512, 256).
      output_shape: (height, width, channels) of the images.
    """

    hidden: Sequence[int]
    output_shape: tuple[int, int, int]
    activation: str = "relu"
    dtype: Any = jnp.float32
    weight_init: str = "lecun_normal"

    @nn.compact
    def __call__(self, z):
        """z: [batch, latent] -> [batch, height, width, channels]."""
        act = get_activation(self.activation)
        h = z.astype(self.dtype)
        for i, width in enumerate(self.hidden):
            h = act(nn.Dense(width, dtype=self.dtype, name=f"hidden_{i}", **layer_inits(self.weight_init, h.shape[-1]))(h))
        h = nn.Dense(math.prod(self.output_shape), dtype=self.dtype, name="out",
                     **layer_inits(self.weight_init, h.shape[-1]))(h)
        return h.reshape((z.shape[0], *self.output_shape))
