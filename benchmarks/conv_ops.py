"""Where conv_vae_mnist's step spends its time: each convolution's forward pass, input gradient and
weight gradient, XLA's native ops against the patch products of `jaxae.models.conv_ops` and against
PyTorch's (needs the `bench` extra), dispatched alone; then the whole train step, one step per
dispatch and 31 steps per `lax.scan`, for both formulations.

    python -m benchmarks.conv_ops --out docs/conv_ops.json
"""

from __future__ import annotations

import functools

import jax

from benchmarks.measure import matmul_gflops, median_seconds, peer_arguments, write_report
from benchmarks.suite import bare_scan
from configs import conv_vae_mnist
from jaxae.data import sources
from jaxae.models import conv_ops

BATCH = 128
# conv_vae_mnist's layers: (name, transposed, input side, input channels, output channels).
LAYERS = [("conv_0", False, 28, 1, 32), ("conv_1", False, 14, 32, 64),
          ("deconv_0", True, 7, 64, 32), ("out", True, 14, 32, 1)]


def _ms(run, repeats):
    return 1e3 * median_seconds(run, repeats=repeats)[0]


def jax_layer(transposed: bool, impl: str, side: int, channels: int, out: int, repeats: int) -> dict:
    """Milliseconds of the forward pass and of each gradient alone (jitted, inputs on the device)."""
    if impl == "native":
        op, shape = (conv_ops.native_conv_transpose if transposed else conv_ops.native_conv), (BATCH, side, side, channels)
    else:
        op, shape = (conv_ops.conv_transpose if transposed else conv_ops.conv), (channels, BATCH, side, side)
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    x, kernel = jax.random.normal(keys[0], shape), jax.random.normal(keys[1], (4, 4, channels, out))
    grad = jax.random.normal(keys[2], jax.eval_shape(op, x, kernel).shape)
    passes = {"forward": jax.jit(op),
              "input_grad": jax.jit(lambda x, k, g: jax.vjp(lambda x: op(x, k), x)[1](g)[0]),
              "weight_grad": jax.jit(lambda x, k, g: jax.vjp(lambda k: op(x, k), k)[1](g)[0])}
    args = {"forward": (x, kernel), "input_grad": (x, kernel, grad), "weight_grad": (x, kernel, grad)}
    return {name: _ms(lambda f=f, a=args[name]: jax.block_until_ready(f(*a)), repeats) for name, f in passes.items()}


def torch_layer(transposed: bool, side: int, channels: int, out: int, repeats: int) -> dict:
    import torch

    layer = (torch.nn.ConvTranspose2d if transposed else torch.nn.Conv2d)(channels, out, 4, 2, 1)
    x = torch.randn(BATCH, channels, side, side, requires_grad=True)
    grad = torch.randn_like(layer(x))

    def backward(wrt):
        y = layer(x)
        torch.autograd.grad(y, [wrt], grad)

    with torch.no_grad():
        forward = _ms(lambda: layer(x), repeats)
    # PyTorch's backward includes its forward (autograd needs the graph): subtract it.
    return {"forward": forward, "input_grad": _ms(lambda: backward(x), repeats) - forward,
            "weight_grad": _ms(lambda: backward(layer.weight), repeats) - forward}


def step_rates(impl: str, steps: int, repeats: int) -> dict:
    """Examples/s of conv_vae_mnist's train step, `steps` per lax.scan dispatch and one per dispatch."""
    config = conv_vae_mnist.get_config()
    config.model.conv_impl = impl
    source = sources.open_tfds("mnist_5k", "train")
    rates = {}
    for name, per_dispatch in [("scan", steps), ("per_step", 1)]:
        run, _ = bare_scan(config, source, per_dispatch)
        loop = functools.partial(lambda run, n: [run() for _ in range(n)], run, steps // per_dispatch)
        rates[name] = steps * BATCH / median_seconds(loop, repeats=repeats)[0]
    return rates


def main(argv=None):
    args = peer_arguments(__doc__).parse_args(argv)
    report = {"jax": jax.__version__, "platform": jax.devices()[0].platform, "batch": BATCH,
              "matmul_f32_gflops": matmul_gflops(repeats=args.repeats), "layers_ms": {}}
    for name, transposed, side, channels, out in LAYERS:
        row = {impl: jax_layer(transposed, impl, side, channels, out, args.repeats) for impl in ("native", "matmul")}
        if not args.no_torch:
            row["torch"] = torch_layer(transposed, side, channels, out, args.repeats)
        report["layers_ms"][name] = row
    report["step_examples_per_sec"] = {impl: step_rates(impl, 31, max(3, args.repeats // 2)) for impl in ("native", "matmul")}
    write_report(report, args.out)
    return report


if __name__ == "__main__":
    main()
