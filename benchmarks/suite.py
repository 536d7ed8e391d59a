"""The performance suite: jaxae's train.py against its own bare scan and against PyTorch peers.

    pip install -e '.[bench]'                  # torch 2.13.0 (CPU) and pythae 0.1.2, for the peer rows
    python -m benchmarks.suite --out docs/performance.json
    python -m benchmarks.suite --smoke         # seconds, no peers: checks the suite itself works

Measures in one invocation: the f32 matmul rate and the memory bandwidth; XLA's FLOPs and bytes
per vae_mnist step and the step's fraction of its roofline; steady-state examples/s of jaxae's
train.py (as a process), of a bare jitted scan of the same step, of plain PyTorch (eager with fused
Adam, and compiled) and of pythae, interleaved over several repeats; the same for conv_vae_mnist
against its PyTorch peers (`benchmarks/torch_conv_vae.py`), and its start-up cold and warm; a
DCGAN-sized generator + discriminator step (`benchmarks/gan_step.py`) against PyTorch eager and
compiled; train.py's time to first step cold and with a warm compile cache, whole 5-epoch process
wall times against a plain-PyTorch process; the streaming path against the device-resident one;
peak host memory of the process.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import jax

from benchmarks.measure import cost, matmul_gflops, median_seconds, memory_bandwidth_gbps, write_report
from configs import vae_mnist
from jaxae.data import pipeline, sources
from jaxae.devices import parallel
from jaxae.engine.runners import DeviceResidentRunner
from jaxae.runs.metric_writers import read_metrics
from jaxae.trainers import create_trainer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GAN_STEPS = 10  # Per sample and per jaxae dispatch: a GAN step takes ~0.1-0.2 s on two cores.


# Runs a command and prints its peak RSS. A child's ru_maxrss counts the pages of the process it
# was forked from, so train.py is started from this small launcher, not from the suite's process.
_LAUNCHER = ("import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); "
             "print(f'peak_rss_kb={resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}'); sys.exit(code)")


def as_users_compile() -> dict:
    """The environment without an XLA optimisation level set by a caller (the tests compile at -O0):
    train.py is timed at XLA's defaults, as users run it."""
    flags = [flag for flag in os.environ.get("XLA_FLAGS", "").split() if not flag.startswith("--xla_backend_optimization_level")]
    return {**os.environ, "XLA_FLAGS": " ".join(flags)}


def train_py(workdir: str, cache: str, *overrides: str, epochs: int = 5, config: str = "vae_mnist") -> dict:
    """Runs train.py on configs/<config>.py as a process; returns wall time, time to first step,
    steady examples/s and the process's peak RSS."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _LAUNCHER, sys.executable, "train.py", f"--config=configs/{config}.py",
                           f"--workdir={workdir}", f"--config.num_epochs={epochs}", "--config.eval_every=0",
                           "--config.checkpoint_every=155", f"--config.compile_cache_dir={cache}", *overrides],
                          cwd=ROOT, capture_output=True, text=True, env=as_users_compile())
    wall = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    output = done.stdout + done.stderr
    first = float(re.search(r"done ([\d.]+) s after the process started", output).group(1))
    rates = [r["train/examples_per_sec"] for r in read_metrics(workdir) if "train/examples_per_sec" in r]
    return {"wall_s": wall, "first_step_s": first, "examples_per_sec": statistics.median(rates),
            "peak_rss_mb": int(re.search(r"peak_rss_kb=(\d+)", output).group(1)) / 1024}


def bare_scan(config, source, steps: int):
    """A bare jitted lax.scan of the same step over device-resident data: the framework-free ceiling."""
    mesh = parallel.make_mesh(1)
    order = pipeline.BatchOrder(len(source), config.batch_size, config.seed)
    trainer = create_trainer(config, source.spec, len(source))
    state = [jax.jit(trainer.init, out_shardings=parallel.replicated(mesh))(jax.random.PRNGKey(0))]
    runner = functools.partial(DeviceResidentRunner(source, ["image"], order, mesh), trainer.train_step)
    batch = parallel.host_to_global(pipeline.read_batch(source, order.batch_indices(0), ["image"]), mesh)
    step_cost = cost(jax.jit(trainer.train_step), state[0], batch)

    def run():
        state[0], metrics = runner(state[0], 0, steps)
        jax.block_until_ready(metrics)

    run()  # Compile.
    return run, step_cost


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny and fast, no peers")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-compiled-torch", action="store_true", help="skip torch.compile (40-50 s to compile)")
    parser.add_argument("--out", default="")
    args = parser.parse_args(argv)
    repeats = 1 if args.smoke else args.repeats
    epochs = 2 if args.smoke else 5  # The first log window includes compilation and is not timed.
    report = {"jax": jax.__version__, "platform": jax.devices()[0].platform, "cpu_count": os.cpu_count()}
    report["matmul_f32_gflops"] = matmul_gflops(256 if args.smoke else 1024, repeats=2 if args.smoke else 7)
    report["memory_gbps"] = memory_bandwidth_gbps(16 if args.smoke else 256, repeats=2 if args.smoke else 7)

    config = vae_mnist.get_config()
    source = sources.open_tfds("mnist_5k", "train")
    steps = 31
    rows = {}
    for batch_size in (128,) if args.smoke else (128, 512):
        config.batch_size = batch_size
        run, step_cost = bare_scan(config, source, steps)
        seconds, _ = median_seconds(run, repeats=1 if args.smoke else 7, warmup=0)
        step_s = seconds / steps
        bound = max(step_cost["flops"] / (report["matmul_f32_gflops"] * 1e9), step_cost["bytes"] / (report["memory_gbps"] * 1e9))
        rows[f"roofline_batch{batch_size}"] = {
            "flops_per_step": step_cost["flops"], "bytes_per_step": step_cost["bytes"], "step_ms": step_s * 1e3,
            "roofline_ms": bound * 1e3, "step_over_roofline": step_s / bound,
            "fraction_of_matmul": step_cost["flops"] / step_s / (report["matmul_f32_gflops"] * 1e9),
            "examples_per_sec": batch_size / step_s}
    config.batch_size = 128
    bare_run, _ = bare_scan(config, source, steps)

    peers, gan_rows = {}, {}
    if not args.smoke:
        from benchmarks import gan_step, torch_conv_vae, torch_vae

        images, params = torch_vae.training_images(), torch_vae.jaxae_initial_params()
        peers["torch_eager_fused_adam"] = torch_vae.TorchTrainer(params, images, compiled=False)
        peers["conv_torch_eager_fused_adam"] = torch_conv_vae.trainer(compiled=False)
        if not args.no_compiled_torch:
            for name, make in [("torch_compiled", lambda: torch_vae.TorchTrainer(params, images, compiled=True)),
                               ("conv_torch_compiled", lambda: torch_conv_vae.trainer(compiled=True))]:
                start = time.perf_counter()
                peers[name] = make()
                peers[name].run(2)
                report[f"{name.replace('compiled', 'compile')}_seconds"] = time.perf_counter() - start
        for trainer in peers.values():
            trainer.run(steps)  # Warm-up.
        gan_rows = gan_step.rows(gan_step.initial_state(), gan_step.real_images(), steps=GAN_STEPS,
                                 compiled=not args.no_compiled_torch)

    own = ["jaxae_train_py", "jaxae_bare_scan"] + ([] if args.smoke else ["conv_jaxae_train_py"])
    samples = {name: [] for name in own + list(peers) + ([] if args.smoke else ["pythae"]) + list(gan_rows)}
    with tempfile.TemporaryDirectory() as scratch:
        warm_cache = os.path.join(scratch, "cache")
        for repeat in range(repeats):  # Interleaved: the machine's noise hits every row alike.
            result = train_py(os.path.join(scratch, f"run{repeat}"), warm_cache, epochs=epochs)
            samples["jaxae_train_py"].append(result["examples_per_sec"])
            # As many dispatches as train.py's timed epochs, so both samples cover the same work.
            bare_epochs = lambda: [bare_run() for _ in range(epochs - 1)]
            samples["jaxae_bare_scan"].append((epochs - 1) * steps * 128 / median_seconds(bare_epochs, repeats=1, warmup=0)[0])
            for name, trainer in peers.items():
                samples[name].append(steps * 2 * 128 / median_seconds(lambda: trainer.run(2 * steps), repeats=1, warmup=0)[0])
            if "pythae" in samples:
                samples["pythae"].append(4000 * torch_vae.pythae_epochs_per_second(params, images))
            for name, row in gan_rows.items():
                samples[name].append(GAN_STEPS * 128 / median_seconds(lambda: row.run(GAN_STEPS), repeats=1, warmup=0)[0])
            if "conv_jaxae_train_py" in samples:
                conv = train_py(os.path.join(scratch, f"conv{repeat}"), warm_cache, epochs=epochs, config="conv_vae_mnist")
                samples["conv_jaxae_train_py"].append(conv["examples_per_sec"])
        throughput = {name: statistics.median(values) for name, values in samples.items()}
        report["examples_per_sec"] = throughput
        report["examples_per_sec_samples"] = samples

        # The smoke run's one repeat was the first on its cache: it is the cold start already.
        cold = result if args.smoke else train_py(os.path.join(scratch, "cold"), os.path.join(scratch, "cold_cache"),
                                                  epochs=epochs)
        # The smoke run checks the rows, not the timings: its one run stands for the warm start too.
        warm = result if args.smoke else train_py(os.path.join(scratch, "warm"), warm_cache, epochs=epochs)
        stream = train_py(os.path.join(scratch, "stream"), warm_cache, "--config.data.placement=stream", epochs=epochs)
        report["startup"] = {"first_step_cold_s": cold["first_step_s"], "first_step_warm_s": warm["first_step_s"],
                             "run_wall_cold_s": cold["wall_s"], "run_wall_warm_s": warm["wall_s"],
                             "peak_rss_mb": warm["peak_rss_mb"]}
        report["streaming_over_device_resident"] = stream["examples_per_sec"] / warm["examples_per_sec"]
        if not args.smoke:  # The conv config's start-up: a compile cache of its own, cold then warm.
            runs = [train_py(os.path.join(scratch, f"conv_{name}"), os.path.join(scratch, "conv_cache"), epochs=epochs,
                             config="conv_vae_mnist") for name in ("cold", "warm")]
            report["conv_startup"] = {"first_step_cold_s": runs[0]["first_step_s"], "first_step_warm_s": runs[1]["first_step_s"],
                                      "run_wall_cold_s": runs[0]["wall_s"], "run_wall_warm_s": runs[1]["wall_s"],
                                      "peak_rss_mb": runs[1]["peak_rss_mb"]}
        if not args.smoke:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "benchmarks.torch_vae", "--epochs", str(epochs)], cwd=ROOT,
                           check=True, capture_output=True)
            report["startup"]["torch_process_wall_s"] = time.perf_counter() - start
    report.update(rows)
    if not args.smoke:
        fastest_torch = max(v for k, v in throughput.items() if k.startswith("torch"))
        report["ratios"] = {"train_py_over_fastest_torch": throughput["jaxae_train_py"] / fastest_torch,
                            "train_py_over_pythae": throughput["jaxae_train_py"] / throughput["pythae"],
                            "train_py_over_bare_scan": throughput["jaxae_train_py"] / throughput["jaxae_bare_scan"]}
        fastest_conv_torch = max(v for k, v in throughput.items() if k.startswith("conv_torch"))
        report["ratios"]["conv_train_py_over_fastest_torch"] = throughput["conv_jaxae_train_py"] / fastest_conv_torch
        report["ratios"]["conv_train_py_over_torch_eager"] = (throughput["conv_jaxae_train_py"]
                                                              / throughput["conv_torch_eager_fused_adam"])
        report["ratios"]["gan_scan_over_torch_eager"] = (throughput["gan_jaxae_scan"]
                                                         / throughput["gan_torch_eager_fused_adam"])
        # The same ratios repeat by repeat (median over repeats): rows of one repeat ran minutes
        # apart at most, so the machine's slower phases cancel better than between medians.
        paired = lambda a, b: statistics.median(x / y for x, y in zip(samples[a], samples[b]))
        report["paired_ratios"] = {
            "train_py_over_torch_eager": paired("jaxae_train_py", "torch_eager_fused_adam"),
            "train_py_over_pythae": paired("jaxae_train_py", "pythae"),
            "conv_train_py_over_torch_eager": paired("conv_jaxae_train_py", "conv_torch_eager_fused_adam"),
            "gan_scan_over_torch_eager": paired("gan_jaxae_scan", "gan_torch_eager_fused_adam")}
    write_report(report, args.out)
    return report


if __name__ == "__main__":
    main()
