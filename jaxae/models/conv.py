"""Convolutional encoders and decoders for small images (28x28, 32x32, any side divisible by 2**depth)."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import flax.linen as nn
import jax.numpy as jnp

from jaxae.errors import ConfigError
from jaxae.models import conv_ops
from jaxae.models.activations import get_activation
from jaxae.models.initializers import layer_inits

KERNEL = (4, 4)  # Even kernels with stride 2 tile the output exactly: no checkerboard from overlap gaps.


def bottleneck_shape(image_shape: Sequence[int], channels: Sequence[int]) -> tuple[int, int, int]:
    """Spatial shape after len(channels) stride-2 convolutions; raises ConfigError if it is not exact."""
    height, width, _ = image_shape
    factor = 2 ** len(channels)
    if not channels or height % factor or width % factor:
        raise ConfigError(
            f"model.channels={tuple(channels)} halves the image {len(channels)} times, so height and "
            f"width must be divisible by {factor}; the images are {height}x{width}")
    return height // factor, width // factor, channels[-1]


class StridedConv(nn.Module):
    """A 4x4 stride-2 convolution ('SAME'), or its transpose, with the parameters of Flax's
    `nn.Conv` / `nn.ConvTranspose` (kernel [4, 4, in, out], bias [out], float32), computed by
    `impl` (see `conv_ops`). Inputs and outputs are [batch, H, W, C] for 'native' and
    channel-first [C, batch, H, W] for 'matmul'."""

    features: int
    transpose: bool
    impl: str
    kernel_init: Callable
    bias_init: Callable
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, h):
        native = self.impl == "native"
        kernel = self.param("kernel", self.kernel_init, (*KERNEL, h.shape[-1 if native else 0], self.features))
        bias = self.param("bias", self.bias_init, (self.features,)).astype(self.dtype)
        h, kernel = h.astype(self.dtype), kernel.astype(self.dtype)
        if native:
            op = conv_ops.native_conv_transpose if self.transpose else conv_ops.native_conv
            return op(h, kernel) + bias
        op = conv_ops.conv_transpose if self.transpose else conv_ops.conv
        return op(h, kernel) + bias[:, None, None, None]


def layout(impl: str):
    """(into, out of) the layout the convolutions of `impl` work in, from and to [batch, H, W, C]."""
    if impl == "native":
        return (lambda x: x), (lambda x: x)
    return conv_ops.to_channels_first, conv_ops.from_channels_first


class ConvEncoder(nn.Module):
    """Stride-2 convolutions, then a dense layer to `features` outputs.

    Attributes:
      channels: output channels of each convolution, e.g. (32, 64) for 28 -> 14 -> 7.
      features: output width (code size, or twice that for a Gaussian code).
      conv_impl: how the convolutions are computed, 'native' or 'matmul' (`conv_ops.resolve`).
    """

    channels: Sequence[int]
    features: int
    activation: str = "relu"
    dtype: Any = jnp.float32
    weight_init: str = "lecun_normal"
    conv_impl: str = "native"

    @nn.compact
    def __call__(self, x):
        """x: [batch, height, width, channels] -> [batch, features]."""
        act = get_activation(self.activation)
        into, out_of = layout(self.conv_impl)
        h = into(x.astype(self.dtype))
        in_channels = x.shape[-1]
        for i, width in enumerate(self.channels):
            inits = layer_inits(self.weight_init, KERNEL[0] * KERNEL[1] * in_channels)
            h = act(StridedConv(width, False, self.conv_impl, dtype=self.dtype, name=f"conv_{i}", **inits)(h))
            in_channels = width
        h = out_of(h).reshape((x.shape[0], -1))
        return nn.Dense(self.features, dtype=self.dtype, name="out", **layer_inits(self.weight_init, h.shape[-1]))(h)


class ConvDecoder(nn.Module):
    """A dense layer to the bottleneck grid, then stride-2 transposed convolutions up to the image.

    Attributes:
      channels: the encoder's channels (first to last); the decoder mirrors them.
      output_shape: (height, width, channels) of the images.
      conv_impl: how the transposed convolutions are computed, 'native' or 'matmul'.
    """

    channels: Sequence[int]
    output_shape: tuple[int, int, int]
    activation: str = "relu"
    dtype: Any = jnp.float32
    weight_init: str = "lecun_normal"
    conv_impl: str = "native"

    @nn.compact
    def __call__(self, z):
        """z: [batch, latent] -> [batch, height, width, channels] (pre-activation outputs)."""
        act = get_activation(self.activation)
        grid = bottleneck_shape(self.output_shape, self.channels)
        h = nn.Dense(grid[0] * grid[1] * grid[2], dtype=self.dtype, name="in",
                     **layer_inits(self.weight_init, z.shape[-1]))(z.astype(self.dtype))
        into, out_of = layout(self.conv_impl)
        h = into(act(h).reshape((z.shape[0], *grid)))
        widths = [*reversed(self.channels[:-1]), self.output_shape[-1]]
        in_channels = grid[-1]
        for i, width in enumerate(widths):
            inits = layer_inits(self.weight_init, KERNEL[0] * KERNEL[1] * in_channels)
            last = i == len(widths) - 1
            h = StridedConv(width, True, self.conv_impl, dtype=self.dtype,
                            name="out" if last else f"deconv_{i}", **inits)(h)
            h = h if last else act(h)
            in_channels = width
        return out_of(h)
