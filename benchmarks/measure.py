"""Timing helpers shared by the benchmarks: medians over repeats, and the machine's f32 matmul rate."""

from __future__ import annotations

import argparse
import json
import statistics
import time

import jax
import jax.numpy as jnp


def peer_arguments(doc: str, *, repeats: int = 7) -> argparse.ArgumentParser:
    """The options of a benchmark with PyTorch peer rows: --repeats, --no-torch, --out."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch rows (no bench extra needed)")
    parser.add_argument("--out", default="", help="also write the JSON report here")
    return parser


def interleaved_rates(runs: dict, examples: int, *, repeats: int) -> dict[str, list[float]]:
    """{name: [examples/s of each repeat]}: every `run()` (which processes `examples` examples and
    blocks until done) once per repeat, in turn, so that the machine's slower phases hit all alike."""
    samples = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            samples[name].append(examples / (time.perf_counter() - start))
    return samples


def write_report(report: dict, path: str) -> None:
    """Prints `report` as JSON and writes it to `path` too (when given)."""
    print(json.dumps(report, indent=1))
    if path:
        with open(path, "w") as out:
            json.dump(report, out, indent=1)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """--smoke, --workdir and --out: the flags of benchmarks that train runs into folders."""
    parser.add_argument("--smoke", action="store_true", help="tiny runs: checks the script runs")
    parser.add_argument("--workdir", default="", help="where the runs go (default: a temporary folder)")
    parser.add_argument("--out", default="", help="a JSON file for the report")


def publish(report: dict, table: str, path: str, **fields) -> dict:
    """{**fields, 'report', 'table'} printed as JSON and written to `path`; the Markdown table printed."""
    result = {**fields, "report": report, "table": table}
    write_report(result, path)
    print(table)
    return result


def median_seconds(run, *, repeats: int, warmup: int = 1) -> tuple[float, list[float]]:
    """Median wall time of `run()` (which must block until its result is ready) and all samples."""
    for _ in range(warmup):
        run()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), samples


def matmul_gflops(size: int = 1024, *, repeats: int = 7, inner: int = 8) -> float:
    """Measured float32 matrix-multiply rate in GFLOP/s: `inner` chained [size, size] products per call."""
    a = jax.random.normal(jax.random.PRNGKey(0), (size, size), jnp.float32)
    b = jax.random.normal(jax.random.PRNGKey(1), (size, size), jnp.float32) / size**0.5

    @jax.jit
    def chain(x):
        for _ in range(inner):
            x = x @ b
        return x

    seconds, _ = median_seconds(lambda: chain(a).block_until_ready(), repeats=repeats)
    return 2 * size**3 * inner / seconds / 1e9


def cost(jitted, *args) -> dict[str, float]:
    """XLA's cost analysis of a jitted function for these arguments: flops and bytes accessed."""
    analysis = jitted.lower(*args).compile().cost_analysis()
    if isinstance(analysis, list):  # Older JAX returned one dict per device program.
        analysis = analysis[0]
    return {"flops": float(analysis.get("flops", 0.0)), "bytes": float(analysis.get("bytes accessed", 0.0))}


def memory_bandwidth_gbps(megabytes: int = 256, *, repeats: int = 7) -> float:
    """Measured streaming bandwidth in GB/s: a jitted read-modify-write over a large float32 array."""
    x = jnp.ones((megabytes * 2**20 // 4,), jnp.float32)
    scale = jax.jit(lambda a: a * 1.0001)
    seconds, _ = median_seconds(lambda: scale(x).block_until_ready(), repeats=repeats)
    return 2 * x.nbytes / seconds / 1e9  # One read and one write of every byte.
