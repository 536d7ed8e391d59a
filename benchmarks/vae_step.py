"""Throughput of the VAE train step, and its fraction of this machine's f32 matmul rate.

    python -m benchmarks.vae_step                 # vae_mnist at batch 128 (and 512), JSON + table
    python -m benchmarks.vae_step --smoke         # seconds: checks the benchmark itself works

Measures, in one process: the f32 matmul rate; XLA's FLOPs per train step; examples/s of
(a) one jitted step per dispatch and (b) the loop's device-resident path (K steps per
`lax.scan`), each as the median of several repeats over the embedded MNIST training split.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import sys

import jax
import numpy as np

from benchmarks.measure import cost, matmul_gflops, median_seconds
from configs import vae_mnist
from jaxae.data import pipeline, sources
from jaxae.devices import parallel
from jaxae.engine.runners import DeviceResidentRunner
from jaxae.trainers import create_trainer


def measure_batch_size(config, source, mesh, *, steps_per_dispatch: int, dispatches: int, repeats: int) -> dict:
    order = pipeline.BatchOrder(len(source), config.batch_size, config.seed)
    trainer = create_trainer(config, source.spec, len(source))
    init = jax.jit(trainer.init, out_shardings=parallel.replicated(mesh))
    state = init(jax.random.PRNGKey(0))
    runner = functools.partial(DeviceResidentRunner(source, ["image"], order, mesh), trainer.train_step)
    step = jax.jit(trainer.train_step, donate_argnums=0)
    batch = parallel.host_to_global(pipeline.read_batch(source, order.batch_indices(0), ["image"]), mesh)
    flops_per_step = cost(jax.jit(trainer.train_step), state, batch)["flops"]

    def per_step_dispatch():
        nonlocal state
        for _ in range(steps_per_dispatch * dispatches):
            state, metrics = step(state, batch)
        jax.block_until_ready(metrics)

    def scanned():
        nonlocal state
        for i in range(dispatches):
            state, metrics = runner(state, i * steps_per_dispatch, steps_per_dispatch)
        jax.block_until_ready(metrics)

    steps = steps_per_dispatch * dispatches
    results = {"batch_size": config.batch_size, "flops_per_example": flops_per_step / config.batch_size}
    # Interleave the two paths so that machine noise hits both alike.
    samples = {"per_step": [], "scan": []}
    for _ in range(repeats):
        samples["per_step"].append(median_seconds(per_step_dispatch, repeats=1)[0])
        samples["scan"].append(median_seconds(scanned, repeats=1)[0])
    for name, times in samples.items():
        seconds = float(np.median(times))
        results[f"{name}_examples_per_sec"] = steps * config.batch_size / seconds
        results[f"{name}_step_ms"] = seconds / steps * 1e3
        results[f"{name}_gflops"] = flops_per_step * steps / seconds / 1e9
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks that the benchmark runs")
    parser.add_argument("--batch-sizes", default="128,512")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="", help="also write the JSON here")
    args = parser.parse_args(argv)

    config = vae_mnist.get_config("tiny" if args.smoke else "")
    batch_sizes = [32] if args.smoke else [int(b) for b in args.batch_sizes.split(",")]
    source = sources.open_tfds(config.data.name, "train")
    mesh = parallel.make_mesh(1)
    matmul = matmul_gflops(256 if args.smoke else 1024, repeats=2 if args.smoke else 7)
    report = {"device": f"{jax.devices()[0].platform}:{jax.devices()[0].device_kind}",
              "cpu_count": os.cpu_count(), "python": platform.python_version(), "jax": jax.__version__,
              "matmul_f32_gflops": matmul, "model": "vae_mnist" + (":tiny" if args.smoke else ""), "rows": []}
    for batch_size in batch_sizes:
        config.batch_size = batch_size
        row = measure_batch_size(config, source, mesh, steps_per_dispatch=5 if args.smoke else 31,
                                 dispatches=2 if args.smoke else 4, repeats=2 if args.smoke else args.repeats)
        row["scan_fraction_of_matmul"] = row["scan_gflops"] / matmul
        report["rows"].append(row)

    print(json.dumps(report, indent=2))
    print(f"\nf32 matmul: {matmul:.1f} GFLOP/s on {report['device']} ({report['cpu_count']} CPUs)")
    print("| batch | per-step dispatch ex/s | lax.scan path ex/s | scan / per-step | MFLOP/example | scan GFLOP/s | of matmul |")
    print("|---|---|---|---|---|---|---|")
    for r in report["rows"]:
        print(f"| {r['batch_size']} | {r['per_step_examples_per_sec']:,.0f} | {r['scan_examples_per_sec']:,.0f} | "
              f"{r['scan_examples_per_sec'] / r['per_step_examples_per_sec']:.2f}x | "
              f"{r['flops_per_example'] / 1e6:.2f} | {r['scan_gflops']:.1f} | {r['scan_fraction_of_matmul']:.0%} |")
    if args.out:
        with open(args.out, "w") as out:
            json.dump(report, out, indent=2)
    return report


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
