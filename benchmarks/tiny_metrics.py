"""Every config's `:tiny` run through train.py, and the final eval metrics it ends with.

A change of shape (a refactor) must move no number: record the metrics before it, then compare
after it on the same machine.

    python -m benchmarks.tiny_metrics --out /tmp/before.json          # at the old commit
    python -m benchmarks.tiny_metrics --compare /tmp/before.json      # at the new one

Each run is its own train.py process in a fresh temporary workdir and tfds folder (XLA's default
flags, one CPU device); the comparison allows a relative difference of `--rtol` (float rounding).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import math
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOT_CONFIGS = {"__init__", "common"}


def config_names() -> list[str]:
    names = [f[:-3] for f in os.listdir(os.path.join(ROOT, "configs")) if f.endswith(".py")]
    return sorted(n for n in names if n not in NOT_CONFIGS)


def final_eval(metrics_path: str) -> dict[str, float]:
    """The `eval/*` values of the last record of metrics.jsonl that has any."""
    last = {}
    with open(metrics_path) as lines:
        for line in lines:
            record = json.loads(line)
            evals = {k: v for k, v in record.items() if k.startswith("eval/")}
            if evals:
                last = evals
    return last


def run_tiny(name: str, scratch: str) -> dict:
    workdir = os.path.join(scratch, name)
    start = time.perf_counter()
    # Each run prepares its data in its own tfds folder: two runs preparing one data set at once collide.
    environment = {**os.environ, "TFDS_DATA_DIR": os.path.join(scratch, f"tfds-{name}")}
    done = subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), "--config",
                           os.path.join(ROOT, "configs", f"{name}.py:tiny"), "--workdir", workdir],
                          cwd=scratch, capture_output=True, text=True, env=environment)
    seconds = time.perf_counter() - start
    if done.returncode:
        return {"error": (done.stderr or done.stdout).strip().splitlines()[-1:], "seconds": seconds}
    return {"eval": final_eval(os.path.join(workdir, "metrics.jsonl")), "seconds": round(seconds, 1)}


def differences(before: dict, after: dict, rtol: float) -> list[str]:
    """One line per config run (`after`) whose final eval metrics moved beyond `rtol` (or that failed)."""
    lines = []
    for name in sorted(after):
        old, new = before.get(name, {}).get("eval"), after.get(name, {}).get("eval")
        if old is None or new is None:
            lines.append(f"{name}: before {before.get(name)} after {after.get(name)}")
            continue
        for key in sorted(set(old) | set(new)):
            a, b = old.get(key), new.get(key)
            if a is None or b is None or not math.isclose(a, b, rel_tol=rtol, abs_tol=1e-12):
                lines.append(f"{name} {key}: {a} -> {b}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="", help="write {config: {eval, seconds}} here")
    parser.add_argument("--compare", default="", help="a JSON written by --out to compare with")
    parser.add_argument("--rtol", type=float, default=1e-5)
    parser.add_argument("--only", nargs="*", default=None, help="these configs only")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    names = args.only or config_names()
    with tempfile.TemporaryDirectory(prefix="jaxae-tiny-metrics-") as scratch:
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            results = dict(zip(names, pool.map(lambda n: run_tiny(n, scratch), names)))
    for name, result in results.items():
        print(f"{name:24s} {result}")
    if args.out:
        with open(args.out, "w") as out:
            json.dump(results, out, indent=1, sort_keys=True)
    if args.compare:
        with open(args.compare) as f:
            moved = differences(json.load(f), results, args.rtol)
        print("\n".join(moved) if moved else f"no final eval metric moved beyond rtol={args.rtol} ({len(names)} configs)")
        sys.exit(1 if moved else 0)


if __name__ == "__main__":
    main()
