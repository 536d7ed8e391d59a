"""Wall time of S seeds trained in one program (`--config.num_seeds=S`) against the same S runs one
after another, each a whole `loop.run` (compilation, hooks, evals and saves included) of a
clustering config from one pretrained network. Repeated and interleaved; medians, with the
host's matmul rate.

    python -m benchmarks.seeds_speed --method idec --seeds 5 --repeats 2 --out docs/seeds_speed.json
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import tempfile
import time

from benchmarks.clustering_speed import pretrained_run
from benchmarks.measure import matmul_gflops, write_report


def run_seconds(method: str, init_from: str, workdir: str, *, seed: int = 0, num_seeds: int = 1,
                epochs: int = 10) -> float:
    from jaxae.engine import loop

    config = importlib.import_module(f"configs.{method}_mnist").get_config()
    config.cluster.init_from, config.num_epochs = init_from, epochs
    config.seed, config.num_seeds, config.compile_cache_dir = seed, num_seeds, "none"
    config.eval_every, config.checkpoint_every, config.log_every = 0, 10**6, 8
    start = time.perf_counter()
    loop.run(config, workdir)
    return time.perf_counter() - start


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", default="idec")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", default="")
    args = parser.parse_args(argv)
    root = tempfile.mkdtemp(prefix="jaxae-seeds-speed-")
    init_from = pretrained_run(root)
    together, in_turn = [], []
    for repeat in range(args.repeats):
        base = os.path.join(root, str(repeat))
        together.append(run_seconds(args.method, init_from, f"{base}/together", num_seeds=args.seeds,
                                    epochs=args.epochs))
        in_turn.append(sum(run_seconds(args.method, init_from, f"{base}/seed{seed}", seed=seed, epochs=args.epochs)
                           for seed in range(args.seeds)))
    report = {"method": args.method, "seeds": args.seeds, "epochs": args.epochs,
              "seconds_one_program": together, "seconds_in_turn": in_turn,
              "speedup": statistics.median(in_turn) / statistics.median(together),
              "matmul_gflops": matmul_gflops()}
    write_report(report, args.out)
    return report


if __name__ == "__main__":
    main()
