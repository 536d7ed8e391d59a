"""Training throughput against device count, for the sharded-jit and pmap paths.

    python -m benchmarks.device_scaling            # vae_mnist, batch 128, 1, 2 and 8 devices
    python -m benchmarks.device_scaling --smoke    # seconds: checks the benchmark itself works

On a CPU-only machine the devices are simulated (--xla_force_host_platform_device_count) and all
share the same cores, so more devices cannot be faster: the figures show the cost of splitting
the step, not a speed-up. On a GPU or TPU host the real devices are used.
"""

from __future__ import annotations

import os

if "jax" not in os.sys.modules and "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"

import argparse  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402

import jax  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.measure import median_seconds  # noqa: E402
from configs import vae_mnist  # noqa: E402
from jaxae.data import pipeline, sources  # noqa: E402
from jaxae.devices import parallel  # noqa: E402
from jaxae.engine.runners import DeviceResidentRunner  # noqa: E402
from jaxae.trainers import create_trainer  # noqa: E402


def make_runner(config, source, devices: int, mode: str):
    mesh = parallel.make_mesh(devices)
    order = pipeline.BatchOrder(len(source), config.batch_size, config.seed)
    trainer = create_trainer(config, source.spec, len(source), axis_name="data" if mode == "pmap" else None)
    state = jax.jit(trainer.init, out_shardings=parallel.replicated(mesh))(jax.random.PRNGKey(0))
    return functools.partial(DeviceResidentRunner(source, ["image"], order, mesh, mode=mode), trainer.train_step), state


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--devices", default="1,2,8")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    config = vae_mnist.get_config("tiny" if args.smoke else "")
    source = sources.open_tfds(config.data.name, "train")
    counts = [c for c in (int(d) for d in args.devices.split(",")) if c <= jax.device_count()]
    steps, dispatches = (4, 2) if args.smoke else (31, 3)
    setups = {(c, mode): make_runner(config, source, c, mode) for c in counts for mode in ("jit", "pmap")}
    states = {key: state for key, (_, state) in setups.items()}
    samples = {key: [] for key in setups}
    for _ in range(2 if args.smoke else args.repeats):  # Interleaved: noise hits every row alike.
        for key, (runner, _) in setups.items():
            def run():
                for i in range(dispatches):
                    states[key], metrics = runner(states[key], i * steps, steps)
                jax.block_until_ready(metrics)
            samples[key].append(median_seconds(run, repeats=1, warmup=0 if samples[key] else 1)[0])
    rows = []
    for (count, mode), times in samples.items():
        rate = steps * dispatches * config.batch_size / float(np.median(times))
        rows.append({"devices": count, "mode": mode, "examples_per_sec": rate})
    base = {row["mode"]: row["examples_per_sec"] for row in rows if row["devices"] == counts[0]}
    for row in rows:
        row["relative_to_first"] = row["examples_per_sec"] / base[row["mode"]]
    report = {"platform": jax.devices()[0].platform, "cpu_count": os.cpu_count(), "jax": jax.__version__,
              "batch_size": config.batch_size, "rows": rows}
    print(json.dumps(report, indent=2))
    print("| devices | mode | examples/s | vs first row |\n|---|---|---|---|")
    for row in rows:
        print(f"| {row['devices']} | {row['mode']} | {row['examples_per_sec']:,.0f} | {row['relative_to_first']:.2f}x |")
    return report


if __name__ == "__main__":
    main()
