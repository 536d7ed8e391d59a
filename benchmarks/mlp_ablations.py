"""What the vae_mnist step spends its time on: the step with one piece changed at a time, against
PyTorch eager (fused Adam) in the same process.

    python -m benchmarks.mlp_ablations --repeats 7 --out docs/mlp_ablations.json   # needs the bench extra

Each variant is the loop's device-resident path (31 steps per `lax.scan`, on-device gathering)
with one change made while it is traced: the Bernoulli loss computed on the decoder's
[batch, 28, 28, 1] output as before issue 10 (element-wise work on an array whose minor
dimension is 1); no gradient-norm metric; no per-example noise (zeros for the VAE's eps, inputs
binarised directly); plain SGD instead of Adam. Samples are interleaved; each variant's ratio to
PyTorch is the median of per-repeat ratios, which cancels most of the machine's drift.
"""

from __future__ import annotations

import contextlib
import functools
import statistics
from unittest import mock

import jax
import jax.numpy as jnp
import optax

from benchmarks.measure import interleaved_rates, matmul_gflops, peer_arguments, write_report
from configs import vae_mnist
from jaxae import losses
from jaxae.data import pipeline, sources
from jaxae.devices import parallel
from jaxae.engine.runners import DeviceResidentRunner
from jaxae.trainers import create_trainer

STEPS, DISPATCHES = 31, 4


def _bce_on_images(logits, targets):
    """The Bernoulli loss as it was: element-wise on [batch, H, W, C], flattened only to sum."""
    per_element = jnp.maximum(logits, 0) - logits * targets + jnp.log1p(jnp.exp(-jnp.abs(logits)))
    return jnp.sum(per_element.reshape(per_element.shape[0], -1), axis=-1)


def _without_noise(trainer):
    """vae_mnist's inputs without random draws: static binarisation, no shift, zero eps."""
    def train_inputs(state, images, *, augment=True):
        targets = (images.astype(jnp.float32) / 255.0 > trainer.config.data.binarize_threshold).astype(jnp.float32)
        return targets, targets, jnp.zeros((images.shape[0], trainer.config.model.latent_dim))

    trainer.ae.train_inputs = train_inputs


VARIANTS = {  # name -> (config change, patch active while tracing, trainer change)
    "as_trained": (None, contextlib.nullcontext, None),
    "loss_on_4d_images": (None, lambda: mock.patch.object(losses, "bce_with_logits", _bce_on_images), None),
    "no_grad_norm_metric": (None, lambda: mock.patch.object(optax, "global_norm", lambda tree: jnp.zeros(())), None),
    "no_per_example_noise": (None, contextlib.nullcontext, _without_noise),
    "sgd_not_adam": ("sgd", contextlib.nullcontext, None),
}


def scanned_steps(variant: str, source, mesh):
    """A compiled `run()` of DISPATCHES x STEPS steps of the variant."""
    optimizer, patch, change = VARIANTS[variant]
    config = vae_mnist.get_config()
    if optimizer:
        config.optimizer.name = optimizer
    trainer = create_trainer(config, source.spec, len(source))
    if change:
        change(trainer)
    order = pipeline.BatchOrder(len(source), config.batch_size, config.seed)
    runner = functools.partial(DeviceResidentRunner(source, ["image"], order, mesh), trainer.train_step)
    box = [jax.jit(trainer.init, out_shardings=parallel.replicated(mesh))(jax.random.PRNGKey(0))]

    def run():
        for i in range(DISPATCHES):
            box[0], metrics = runner(box[0], i * STEPS, STEPS)
        jax.block_until_ready(metrics)

    with patch():
        run()  # Traced and compiled with the patch in place.
    return run


def main(argv=None):
    args = peer_arguments(__doc__).parse_args(argv)
    source, mesh = sources.open_tfds("mnist_5k", "train"), parallel.make_mesh(1)
    runs = {name: scanned_steps(name, source, mesh) for name in VARIANTS}
    if not args.no_torch:
        from benchmarks import torch_vae

        torch_trainer = torch_vae.TorchTrainer(torch_vae.jaxae_initial_params(), torch_vae.training_images(),
                                               compiled=False)
        torch_trainer.run(STEPS)
        runs["torch_eager_fused_adam"] = lambda: torch_trainer.run(DISPATCHES * STEPS)
    samples = interleaved_rates(runs, DISPATCHES * STEPS * 128, repeats=args.repeats)
    report = {"jax": jax.__version__, "matmul_f32_gflops": matmul_gflops(), "examples_per_sec_samples": samples,
              "examples_per_sec": {name: statistics.median(values) for name, values in samples.items()}}
    if not args.no_torch:
        torch_samples = samples["torch_eager_fused_adam"]
        report["over_torch_eager"] = {name: statistics.median(a / b for a, b in zip(values, torch_samples))
                                      for name, values in samples.items() if name != "torch_eager_fused_adam"}
    write_report(report, args.out)
    return report


if __name__ == "__main__":
    main()
