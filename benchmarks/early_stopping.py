"""`vae_mnist` with early stopping on a validation tenth of its training digits, against its fixed
30 epochs: test negative ELBO and importance-weighted NLL, epochs run, wall time.

  python -m benchmarks.early_stopping --seeds 3 --out docs/early_stopping.json

Fixed: `configs/vae_mnist.py` as shipped (30 epochs on the 4,000 training digits). Early stopping:
the same with `early_stopping.metric='neg_elbo'`, patience 5 evals of one epoch each, up to 100
epochs, on the 3,600 digits left once the validation tenth is carved out. Both score the 1,000 test
digits once, the early-stopped run with its best state; the IW-NLL is `jaxae.load(run).log_likelihood`
with K = 1,000 draws per digit. Seeds set `config.seed` (initialisation, batch order, noise).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np

from benchmarks.measure import publish

IW_SAMPLES = 1000


def configs(smoke: bool) -> dict:
    from jaxae import get_config

    fixed = get_config("vae_mnist", "tiny" if smoke else "")
    stopping = get_config("vae_mnist", "tiny" if smoke else "")
    steps_per_epoch = int(0.9 * 4000) // stopping.batch_size
    stopping.num_epochs = 3 if smoke else 100
    stopping.eval_every = stopping.log_every = steps_per_epoch
    stopping.checkpoint_every = 10 * steps_per_epoch
    stopping.early_stopping.update(metric="neg_elbo", patience=5, validation_fraction=0.1)
    if smoke:
        stopping.num_steps, stopping.eval_every, stopping.log_every, stopping.checkpoint_every = 40, 10, 10, 10
    return {"fixed 30 epochs": fixed, "early stopping (patience 5 epochs)": stopping}


def run(config, seed: int, workdir: str, samples: int) -> dict:
    import jaxae
    from jaxae.data import host, sources

    config.seed = seed
    started = time.perf_counter()
    result = jaxae.run(config, workdir)
    seconds = time.perf_counter() - started
    with open(os.path.join(workdir, "metrics.jsonl")) as lines:
        written = [json.loads(line) for line in lines]
    stopped = next((record for record in written if "train/stopped_early" in record), {})
    model = jaxae.load(workdir)  # The best state, where early stopping kept one.
    test = host.read_all(sources.open_tfds("mnist_5k", "test"), ["image"])["image"]
    steps_per_epoch = model.record["data"]["num_examples"] // config.batch_size
    return {"neg_elbo": result.eval_metrics["eval/neg_elbo"],
            "iw_nll": float(-np.mean(model.log_likelihood(test, samples=samples))),
            "epochs": result.step / steps_per_epoch, "best_epoch": model.step / steps_per_epoch,
            "stopped_early": bool(stopped.get("train/stopped_early", 0)), "seconds": seconds}


def markdown(results: dict) -> str:
    lines = ["| training | test negative ELBO | test IW-NLL (K = 1,000) | epochs run | epoch kept | wall time (s) |",
             "|---|---|---|---|---|---|"]
    for name, seeds in results.items():
        cell = lambda key, digits=1: (f"{np.mean([s[key] for s in seeds]):.{digits}f}"  # noqa: E731
                                      + (f" +- {np.std([s[key] for s in seeds]):.{digits}f}" if len(seeds) > 1 else ""))
        lines.append(f"| {name} | {cell('neg_elbo')} | {cell('iw_nll')} | {cell('epochs', 0)} | {cell('best_epoch', 0)} "
                     f"| {cell('seconds', 0)} |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="tiny runs and 10 draws: checks the script runs")
    parser.add_argument("--out", default="")
    args = parser.parse_args(argv)
    samples = 10 if args.smoke else IW_SAMPLES
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, config in configs(args.smoke).items():
            results[name] = [run(config, seed, os.path.join(folder, f"{len(results)}-{seed}"), samples)
                             for seed in range(args.seeds)]
    return publish(results, markdown(results), args.out, iw_samples=samples)


if __name__ == "__main__":
    main()
