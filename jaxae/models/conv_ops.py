"""The conv models' 4x4 stride-2 convolution and transposed convolution ('SAME' padding), two ways.

`native`: XLA's convolution ops on [batch, H, W, C] arrays. `matmul`: the same maps on
channel-first [C, batch, H, W] arrays as explicit patch-matrix products with hand-written VJPs,
for XLA:CPU, where the native ops' gradients are slow (the transposed convolution's weight
gradient ran at ~7 GFLOP/s, `docs/performance.md`). In the channel-first layout every product of
the forward and backward passes contracts over the minor dimension of at least one operand
(which XLA:CPU runs 2-3x faster than a contraction over both operands' major dimension); each
input gradient is one convolution of the other kind (kernel flipped) and each weight gradient one
product of windows already gathered, so nothing is scattered back onto an image.

Both take the kernel as Flax stores it, [4, 4, in, out] (HWIO, for the transposed convolution
too, unflipped, as `nn.ConvTranspose` with `transpose_kernel=False`), so parameters and
checkpoints do not depend on the choice; outputs and gradients agree up to float rounding
(`tests/test_conv_ops.py`).

One axis of the stride-2 convolution, padding one on each side:
    y[i] = sum_u x[2i + u - 1] w[u],    u = 0..3
and of the transposed one (so that it undoes the shapes of the first):
    y[2p] = x[p - 1] w[0] + x[p] w[2],    y[2p + 1] = x[p] w[1] + x[p + 1] w[3]
The input gradient of each is the other with the kernel flipped and its channels swapped.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

IMPLEMENTATIONS = ("auto", "native", "matmul")
_NHWC = ("NHWC", "HWIO", "NHWC")
# For the transposed convolution's output phase d (even or odd position), which kernel tap each of
# the input window's positions p - 1, p, p + 1 (window offsets 0, 1, 2 after padding by one) uses.
_PHASE_TAPS = ({0: 0, 1: 2}, {1: 1, 2: 3})


def resolve(impl: str) -> str:
    """'auto' -> 'matmul' on CPU (measured faster there), 'native' on GPU and TPU."""
    if impl not in IMPLEMENTATIONS:
        raise ValueError(f"conv implementation {impl!r} is unknown; choose one of {IMPLEMENTATIONS}")
    if impl == "auto":
        return "matmul" if jax.default_backend() == "cpu" else "native"
    return impl


def native_conv(x, kernel):
    """x [batch, H, W, C], kernel [4, 4, C, O] -> [batch, H/2, W/2, O]."""
    return lax.conv_general_dilated(x, kernel, (2, 2), "SAME", dimension_numbers=_NHWC)


def native_conv_transpose(x, kernel):
    """x [batch, h, w, C], kernel [4, 4, C, O] -> [batch, 2h, 2w, O]."""
    return lax.conv_transpose(x, kernel, (2, 2), "SAME", dimension_numbers=_NHWC)


def to_channels_first(x):
    """[batch, H, W, C] -> [C, batch, H, W]."""
    return x.transpose(3, 0, 1, 2)


def from_channels_first(x):
    """[C, batch, H, W] -> [batch, H, W, C]."""
    return x.transpose(1, 2, 3, 0)


def _patches(x):
    """x [C, batch, H, W] (H, W even) -> the stride-2 4x4 windows [16 C, batch * H/2 * W/2], rows (ky, kx, c)."""
    channels, _, height, width = x.shape
    padded = jnp.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    taps = [padded[:, :, ky:ky + height:2, kx:kx + width:2] for ky in range(4) for kx in range(4)]
    return jnp.stack(taps).reshape(16 * channels, -1)


def _flipped(kernel):
    """[4, 4, C, O] -> [4, 4, O, C] with the taps reversed: the kernel of the transposed map."""
    return kernel[::-1, ::-1].transpose(0, 1, 3, 2)


def _conv_from_patches(patches, kernel, batch, height, width):
    """Patches [16 C, N] of an input [C, batch, 2 height, 2 width] -> [O, batch, height, width]."""
    out = kernel.shape[-1]
    return (kernel.reshape(-1, out).T @ patches).reshape(out, batch, height, width)


@jax.custom_vjp
def conv(x, kernel):
    """Stride-2 convolution. x [C, batch, H, W] (H, W even), kernel [4, 4, C, O] -> [O, batch, H/2, W/2]."""
    return _conv_forward(x, kernel)[0]


def _conv_forward(x, kernel):
    _, batch, height, width = x.shape
    patches = _patches(x)
    return _conv_from_patches(patches, kernel, batch, height // 2, width // 2), (patches, kernel)


def _conv_backward(residuals, grad):
    patches, kernel = residuals
    grad_kernel = (patches @ grad.reshape(grad.shape[0], -1).T).reshape(kernel.shape)
    return conv_transpose(grad, _flipped(kernel)), grad_kernel


conv.defvjp(_conv_forward, _conv_backward)


@jax.custom_vjp
def conv_transpose(x, kernel):
    """Stride-2 transposed convolution. x [C, batch, h, w], kernel [4, 4, C, O] -> [O, batch, 2h, 2w]."""
    return _conv_transpose_forward(x, kernel)[0]


def _conv_transpose_forward(x, kernel):
    channels, out = kernel.shape[-2:]
    # With few outputs (a decoder's last layer: 32 -> 1) the phase products are matrix-vector
    # products over large windows (13.7 ms against 0.4 ms for 32 -> 1 channels at batch 128).
    y = _spread_products(x, kernel) if 8 * out <= channels else _phase_products(x, kernel)
    return y, (x, kernel)


def _spread_products(x, kernel):
    """`conv_transpose` as one product of every kernel tap with the input, [16 O, N], each tap's
    result then placed on the output grid (input q lands at 2q + 2 - u) by a strided pad and summed."""
    channels, batch, height, width = x.shape
    out = kernel.shape[-1]
    taps = kernel.transpose(0, 1, 3, 2).reshape(16 * out, channels) @ x.reshape(channels, -1)
    taps = taps.reshape(4, 4, out, batch, height, width)
    zero = jnp.zeros((), x.dtype)
    y = jnp.zeros((out, batch, 2 * height + 2, 2 * width + 2), x.dtype)  # One spare row and column each side.
    for uy in range(4):
        for ux in range(4):
            y = y + lax.pad(taps[uy, ux], zero, ((0, 0, 0), (0, 0, 0), (3 - uy, uy, 1), (3 - ux, ux, 1)))
    return y[:, :, 1:2 * height + 1, 1:2 * width + 1]


def _phase_products(x, kernel):
    """`conv_transpose`: each of the four output phases (even/odd row, even/odd column) is one
    product of the 2x2 input windows that reach it with the four kernel taps that phase uses."""
    channels, batch, height, width = x.shape
    out = kernel.shape[-1]
    padded = jnp.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    rows = []
    for row_taps in _PHASE_TAPS:
        phases = []
        for col_taps in _PHASE_TAPS:
            windows = [padded[:, :, ty:ty + height, tx:tx + width] for ty in row_taps for tx in col_taps]
            taps = jnp.stack([kernel[ky, kx] for ky in row_taps.values() for kx in col_taps.values()])
            product = taps.reshape(4 * channels, out).T @ jnp.stack(windows).reshape(4 * channels, -1)
            phases.append(product.reshape(out, batch, height, width))
        rows.append(jnp.stack(phases, axis=-1))  # [O, batch, h, w, column phase]
    return jnp.stack(rows, axis=3).reshape(out, batch, 2 * height, 2 * width)  # row phase after h


def _conv_transpose_backward(residuals, grad):
    x, kernel = residuals
    channels, batch, height, width = x.shape
    patches = _patches(grad)  # [16 O, N]: tap (ky, kx) of these windows meets kernel tap (3 - ky, 3 - kx).
    grad_x = _conv_from_patches(patches, _flipped(kernel), batch, height, width)
    grad_kernel = (x.reshape(channels, -1) @ patches.T).reshape(channels, 4, 4, -1)
    return grad_x, grad_kernel[:, ::-1, ::-1].transpose(1, 2, 0, 3)


conv_transpose.defvjp(_conv_transpose_forward, _conv_transpose_backward)
