"""GAN players: a generator (MLP or DCGAN-style, BatchNorm over the global batch) and a
discriminator with an optional InfoGAN Q head on its trunk.

Convolutional players use the 4x4 stride-2 convolutions of `conv.py` (so `conv_impl` picks XLA's
convolutions or the patch products, with the same parameters), for any image side divisible by
2**len(channels): 28x28 (7 -> 14 -> 28) and 32x32 (8 -> 16 -> 32) with two layers.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from jaxae.devices import parallel
from jaxae.models.conv import KERNEL, StridedConv, bottleneck_shape, layout
from jaxae.models.initializers import layer_inits


class BatchNorm(nn.Module):
    """Batch normalisation whose moments are statistics of the whole global batch.

    The moments go through `parallel.batch_mean`, so a batch split over 8 devices under `pmap`
    (`axis_name` set) normalises exactly as on one device. Running averages live in the
    'batch_stats' collection and are used when `train` is False. Not `flax.linen.BatchNorm`: this
    one takes the channel-first layout of the 'matmul' convolutions without transposes, and its
    batch statistics go through the project's one cross-device helper, as every other does.

    Attributes:
      axis_name: the pmap axis (None under jit, where the batch axis is already global).
      channels_first: inputs are [C, batch, ...] (the 'matmul' convolutions' layout) rather than
        [batch, ..., C].
      momentum: weight of the old running average in each update.
    """

    axis_name: str | None = None
    channels_first: bool = False
    momentum: float = 0.9
    epsilon: float = 1e-5

    @nn.compact
    def __call__(self, x, *, train: bool):
        """x: [batch, ..., C] (or [C, batch, ...]) -> the same shape, normalised per channel."""
        channels = x.shape[0] if self.channels_first else x.shape[-1]
        running_mean = self.variable("batch_stats", "mean", lambda: jnp.zeros((channels,), jnp.float32))
        running_var = self.variable("batch_stats", "var", lambda: jnp.ones((channels,), jnp.float32))
        scale = self.param("scale", nn.initializers.ones_init(), (channels,))
        bias = self.param("bias", nn.initializers.zeros_init(), (channels,))
        h = x.astype(jnp.float32)
        if train:
            mean = parallel.batch_mean(self._per_example_mean(h), self.axis_name)
            var = parallel.batch_mean(self._per_example_mean(jnp.square(h - self._broadcast(mean, h))), self.axis_name)
            if not self.is_initializing():
                running_mean.value = self.momentum * running_mean.value + (1 - self.momentum) * mean
                running_var.value = self.momentum * running_var.value + (1 - self.momentum) * var
        else:
            mean, var = running_mean.value, running_var.value
        normed = (h - self._broadcast(mean, h)) * self._broadcast(scale * (var + self.epsilon) ** -0.5, h)
        return (normed + self._broadcast(bias, h)).astype(x.dtype)

    def _per_example_mean(self, h):
        """[batch, channels]: each example's mean over its other axes."""
        if self.channels_first:
            return jnp.mean(h.reshape(h.shape[0], h.shape[1], -1), axis=-1).T
        return jnp.mean(h.reshape(h.shape[0], -1, h.shape[-1]), axis=1)

    def _broadcast(self, per_channel, h):
        if self.channels_first:
            return per_channel.reshape((-1,) + (1,) * (h.ndim - 1))
        return per_channel


class Generator(nn.Module):
    """latents [batch, latent] -> images [batch, H, W, C] in [-1, 1] (tanh).

    Dense layers of widths `hidden`, then either a dense layer to the image (no `channels`: an MLP)
    or to the bottleneck grid followed by stride-2 transposed convolutions mirroring `channels` (the
    discriminator's, first to last). Every hidden layer is BatchNorm (with `batch_norm`) then ReLU.
    """

    hidden: Sequence[int]
    channels: Sequence[int]
    output_shape: tuple[int, int, int]
    batch_norm: bool = True
    axis_name: str | None = None
    conv_impl: str = "native"
    dtype: Any = jnp.float32
    weight_init: str = "dcgan_normal"

    @nn.compact
    def __call__(self, latents, *, train: bool):
        def normalise(h, name, channels_first=False):
            if not self.batch_norm:
                return h
            return BatchNorm(self.axis_name, channels_first, name=f"{name}_norm")(h, train=train)

        h = latents.astype(self.dtype)
        for i, width in enumerate(self.hidden):
            h = nn.Dense(width, dtype=self.dtype, name=f"hidden_{i}", **layer_inits(self.weight_init, h.shape[-1]))(h)
            h = nn.relu(normalise(h, f"hidden_{i}"))
        if not self.channels:
            h = nn.Dense(math.prod(self.output_shape), dtype=self.dtype, name="out",
                         **layer_inits(self.weight_init, h.shape[-1]))(h)
            return jnp.tanh(h.astype(jnp.float32)).reshape((latents.shape[0], *self.output_shape))
        grid = bottleneck_shape(self.output_shape, self.channels)
        h = nn.Dense(math.prod(grid), dtype=self.dtype, name="grid", **layer_inits(self.weight_init, h.shape[-1]))(h)
        into, out_of = layout(self.conv_impl)
        channels_first = self.conv_impl != "native"
        h = nn.relu(normalise(into(h.reshape((latents.shape[0], *grid))), "grid", channels_first))
        widths = [*reversed(self.channels[:-1]), self.output_shape[-1]]
        in_channels = grid[-1]
        for i, width in enumerate(widths):
            last = i == len(widths) - 1
            inits = layer_inits(self.weight_init, KERNEL[0] * KERNEL[1] * in_channels)
            h = StridedConv(width, True, self.conv_impl, dtype=self.dtype, name="out" if last else f"deconv_{i}",
                            **inits)(h)
            if not last:
                h = nn.relu(normalise(h, f"deconv_{i}", channels_first))
            in_channels = width
        return jnp.tanh(out_of(h).astype(jnp.float32))


class Discriminator(nn.Module):
    """images [batch, H, W, C] in [-1, 1] -> (logits [batch], Q outputs [batch, q_outputs] or None).

    The trunk: stride-2 convolutions of `channels` (none: an MLP), then dense layers of widths
    `hidden`, each followed by a leaky ReLU (with `batch_norm`, BatchNorm before it on every layer
    but the first convolution, as in DCGAN and InfoGAN). The adversarial head is one dense unit;
    with `q_outputs` > 0, InfoGAN's Q head (a dense layer of `q_hidden` units, normalised likewise,
    leaky ReLU, then `q_outputs`) reads the same trunk. Without BatchNorm each example's logit
    depends on it alone.
    """

    hidden: Sequence[int]
    channels: Sequence[int]
    q_outputs: int = 0
    q_hidden: int = 128
    negative_slope: float = 0.2
    batch_norm: bool = False
    axis_name: str | None = None
    conv_impl: str = "native"
    dtype: Any = jnp.float32
    weight_init: str = "dcgan_normal"

    @nn.compact
    def __call__(self, images, *, train: bool = False):
        def act(h, name, channels_first=False):
            if self.batch_norm and name != "conv_0":
                h = BatchNorm(self.axis_name, channels_first, name=f"{name}_norm")(h, train=train)
            return nn.leaky_relu(h, self.negative_slope)

        into, out_of = layout(self.conv_impl)
        h = into(images.astype(self.dtype))
        in_channels = images.shape[-1]
        for i, width in enumerate(self.channels):
            inits = layer_inits(self.weight_init, KERNEL[0] * KERNEL[1] * in_channels)
            h = StridedConv(width, False, self.conv_impl, dtype=self.dtype, name=f"conv_{i}", **inits)(h)
            h = act(h, f"conv_{i}", self.conv_impl != "native")
            in_channels = width
        h = (out_of(h) if self.channels else images.astype(self.dtype)).reshape((images.shape[0], -1))
        for i, width in enumerate(self.hidden):
            dense = nn.Dense(width, dtype=self.dtype, name=f"hidden_{i}", **layer_inits(self.weight_init, h.shape[-1]))
            h = act(dense(h), f"hidden_{i}")
        logits = nn.Dense(1, dtype=self.dtype, name="out", **layer_inits(self.weight_init, h.shape[-1]))(h)
        q = None
        if self.q_outputs:
            q = act(nn.Dense(self.q_hidden, dtype=self.dtype, name="q_hidden",
                             **layer_inits(self.weight_init, h.shape[-1]))(h), "q_hidden")
            q = nn.Dense(self.q_outputs, dtype=self.dtype, name="q_out",
                         **layer_inits(self.weight_init, self.q_hidden))(q).astype(jnp.float32)
        return logits[:, 0].astype(jnp.float32), q
