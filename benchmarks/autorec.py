"""AutoRec on MovieLens-100K: I-AutoRec and U-AutoRec test RMSE over seeded 90/10 splits, and the
wall time of an L-BFGS NumPy reference of I-AutoRec (the paper's optimiser) on the same split.

  pip install --no-deps recbole   # MovieLens-100K ships in its wheel
  python -m benchmarks.autorec --splits 5 --out docs/autorec_ml100k.json

Every jaxae run is `configs/autorec_ml100k.py` with `data.ratings.split_seed=s` (and
`data.ratings.rows=users` plus `U_AUTOREC_FIELDS` for U-AutoRec), timed from `loop.run`'s call to
its return (data preparation, compilation and the final eval included). The reference minimises
the same objective (squared error over observed ratings + lambda/2 (|W|^2 + |V|^2), 500 sigmoid
units, the same initial weights' distribution) with SciPy's L-BFGS-B on NumPy float32 gradients,
and predicts as the family does (clipped to [1, 5], 3 for a row or column without training ratings).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
from scipy.special import expit

from benchmarks.measure import add_run_arguments, matmul_gflops, publish

# U-AutoRec: the best of our search over splits 0-3 (lambda 30, 100, 300 at a rate of 1e-3 for 100
# epochs of 14 batches: see docs/autorec.md).
U_AUTOREC_FIELDS = {"num_epochs": 100, "l2": 100.0, "learning_rate": 1e-3}


def autorec_config(rows: str, split: int, smoke: bool, data_dir: str):
    from configs import autorec_ml100k

    config = autorec_ml100k.get_config("tiny" if smoke else "")
    config.data.ratings.rows, config.data.ratings.split_seed = rows, split
    config.data.tfds_data_dir = data_dir
    if rows == "users" and not smoke:
        config.num_epochs, config.autorec.l2 = U_AUTOREC_FIELDS["num_epochs"], U_AUTOREC_FIELDS["l2"]
        config.optimizer.learning_rate = U_AUTOREC_FIELDS["learning_rate"]
    return config


def jaxae_run(rows: str, split: int, smoke: bool, root: str) -> dict:
    """{'rmse', 'seconds'} of one run of the config."""
    from jaxae.engine import loop

    config = autorec_config(rows, split, smoke, os.path.join(root, "tfds"))
    start = time.perf_counter()
    result = loop.run(config, os.path.join(root, f"{rows}_{split}"))
    return {"rmse": result.eval_metrics["eval/rmse"], "seconds": time.perf_counter() - start}


def reference_objective(params, ratings, observed, hidden: int, l2: float):
    """The paper's objective and its gradient in NumPy: params flat [W, b, V, c] -> (value, gradient)."""
    n, d = ratings.shape
    w, b, v, c = np.split(params.astype(np.float32), np.cumsum([d * hidden, hidden, hidden * d]))
    w, v = w.reshape(d, hidden), v.reshape(hidden, d)
    codes = expit(ratings @ w + b)
    error = observed * (codes @ v + c - ratings)
    value = np.sum(error ** 2) + l2 / 2 * (np.sum(w ** 2) + np.sum(v ** 2))
    d_out = 2 * error
    d_pre = (d_out @ v.T) * codes * (1 - codes)
    grads = [ratings.T @ d_pre + l2 * w, d_pre.sum(0), codes.T @ d_out + l2 * v, d_out.sum(0)]
    return float(value), np.concatenate([g.ravel() for g in grads]).astype(np.float64)


def reference_run(split: int, iterations: int, smoke: bool, root: str) -> dict:
    """{'rmse', 'seconds', 'iterations'} of L-BFGS-B on I-AutoRec's objective, split `split`."""
    from scipy.optimize import minimize

    from jaxae.data import host, sources

    config = autorec_config("items", split, smoke, os.path.join(root, "tfds"))
    test = sources.open_tfds("ratings", "test", config.data.tfds_data_dir, config.data)
    rows = host.read_all(test, list(test.spec))
    ratings, observed = rows["ratings"], rows["observed"].astype(np.float32)
    n, d = ratings.shape
    hidden, l2 = config.model.hidden_units, config.autorec.l2
    rng = np.random.default_rng(split)
    start = np.concatenate([rng.uniform(-1, 1, d * hidden) / np.sqrt(d), np.zeros(hidden),
                            rng.uniform(-1, 1, hidden * d) / np.sqrt(hidden), np.zeros(d)])
    began = time.perf_counter()
    fit = minimize(reference_objective, start, args=(ratings, observed, hidden, l2), jac=True, method="L-BFGS-B",
                   options={"maxiter": iterations})
    seconds = time.perf_counter() - began
    w, b, v, c = np.split(fit.x.astype(np.float32), np.cumsum([d * hidden, hidden, hidden * d]))
    predictions = np.clip(expit(ratings @ w.reshape(d, hidden) + b) @ v.reshape(hidden, d) + c, 1, 5)
    known = observed.any(1, keepdims=True) & observed.any(0, keepdims=True)
    predictions = np.where(known, predictions, 3.0)
    held = rows["held_out_observed"]
    rmse = float(np.sqrt(np.mean((predictions[held] - rows["held_out"][held]) ** 2)))
    return {"rmse": rmse, "seconds": seconds, "iterations": int(fit.nit)}


def summary(runs: list[dict]) -> dict:
    rmse = [r["rmse"] for r in runs]
    return {"rmse_mean": float(np.mean(rmse)), "rmse_std": float(np.std(rmse)), "rmses": rmse,
            "seconds_mean": float(np.mean([r["seconds"] for r in runs]))}


def markdown(report: dict) -> str:
    lines = ["| model | splits | test RMSE | seconds per run |", "|---|---|---|---|"]
    for name, row in report["models"].items():
        lines.append(f"| {name} | {len(row['rmses'])} | {row['rmse_mean']:.4f} +- {row['rmse_std']:.4f} | "
                     f"{row['seconds_mean']:.0f} |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--splits", type=int, default=5, help="split seeds 0..splits-1 for each jaxae model")
    parser.add_argument("--reference_splits", type=int, default=1, help="splits the NumPy reference runs on")
    parser.add_argument("--reference_iterations", type=int, default=400)
    add_run_arguments(parser)
    args = parser.parse_args(argv)
    root = args.workdir or tempfile.mkdtemp(prefix="jaxae-autorec-")
    splits = 1 if args.smoke else args.splits
    models = {}
    for name, rows in (("I-AutoRec (jaxae)", "items"), ("U-AutoRec (jaxae)", "users")):
        models[name] = summary([jaxae_run(rows, split, args.smoke, root) for split in range(splits)])
        print(name, models[name], flush=True)
    iterations = 5 if args.smoke else args.reference_iterations
    reference = [reference_run(split, iterations, args.smoke, root) for split in range(args.reference_splits)]
    models[f"I-AutoRec, NumPy + L-BFGS-B ({iterations} iterations)"] = summary(reference)
    report = {"models": models, "host_matmul_gflops": matmul_gflops()}
    return publish(report, markdown(report), args.out, data="ml-100k" if not args.smoke else "synthetic")


if __name__ == "__main__":
    main()
