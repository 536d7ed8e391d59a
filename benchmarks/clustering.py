"""The clustering table: K-means on raw pixels, autoencoder + K-means, DCN, DEC, IDEC, VaDE, JULE
and N2D, over seeds.

For each seed, one autoencoder is pretrained (`configs/ae_kmeans_mnist.py`, which also gives the
autoencoder + K-means row) and the other methods start from it with `cluster.init_from`, as the
docs/clustering.md describes. Every score is on the test split (clusters predicted for digits the run never
saw); nothing is chosen with labels. Prints a Markdown table of mean +- std and writes every
seed's numbers as JSON.

  python -m benchmarks.clustering --data mnist_5k --seeds 5 --out docs/clustering_mnist_5k.json
  python -m benchmarks.clustering --data sklearn_digits --seeds 5 --out docs/clustering_sklearn_digits.json

`--update` adds the rows run now to the report already in `--out` (the same data and seeds).
`--set jule.first_graph=inputs` (repeatable) changes a config field of every method that has
it, except the shared pretraining (ae_kmeans); `--pretrain pretrain.num_epochs=1000` (repeatable)
changes the shared pretraining, whose runs and the methods' from it go to a folder of their own.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import tempfile
import time

import jax
import numpy as np

from benchmarks.measure import write_report
from jaxae.cluster import kmeans
from jaxae.config import checks
from jaxae.config.loading import apply_overrides
from jaxae.data import host, sources
from jaxae.engine import loop
from jaxae.errors import ConfigError
from jaxae.metrics import clustering as metrics

METHODS = ("ae_kmeans", "dcn", "dec", "idec", "vade", "jule", "n2d")
# The configs are made for 28x28 digits; on 8x8 ones a shift of a pixel is too much (see jaxae/config/defaults.py).
DATA_OVERRIDES = {"mnist_5k": {}, "sklearn_digits": {"augment_shift": 0}}
SCORES = ("cluster_acc", "nmi", "ari")


def split_arrays(name: str, split: str):
    """(images as float [n, features] in [0, 1], labels [n]) of an embedded data set's split."""
    sources.prepare_embedded(name, None)
    data = host.read_all(sources.open_tfds(name, split, None), ["image", "label"])
    return data["image"].reshape(len(data["label"]), -1).astype(np.float32) / 255.0, data["label"]


def raw_kmeans(data: str, seed: int) -> dict:
    """K-means (20 restarts) fitted on the training pixels; the test digits get the nearest centroid."""
    train_x, _ = split_arrays(data, "train")
    test_x, test_y = split_arrays(data, "test")
    start = time.perf_counter()
    found = kmeans.kmeans(jax.random.PRNGKey(seed), train_x, 10, num_restarts=20)
    clusters = np.asarray(kmeans.assign(test_x, found.centroids))
    seconds = time.perf_counter() - start
    return {**metrics.scores(np.asarray(metrics.contingency(test_y, clusters, 10, 10))), "seconds": seconds}


def config_for(method: str, data: str, seed: int, smoke: bool, init_from: str = "", settings=()):
    config = importlib.import_module(f"configs.{method}_mnist").get_config("tiny" if smoke else "")
    config.data.name, config.seed = data, seed
    config.data.update(DATA_OVERRIDES[data])
    for name, text in settings:  # As train.py's --config.<field>=<text>, for the methods that have the field.
        try:
            checks.get(config, name)
        except ConfigError:
            continue
        apply_overrides(config, [(name, text)])
    config.compile_cache_dir = "none" if smoke else config.compile_cache_dir
    if init_from:
        config.cluster.init_from = init_from
    return config


def folder_name(name: str, changes) -> str:
    return name + "".join(f",{field}={value}" for field, value in changes)


def field_values(texts) -> list[tuple[str, str]]:
    """'FIELD=VALUE' texts (--set, --pretrain) -> [(field, value text)]."""
    return [tuple(text.split("=", 1)) for text in texts]


def deep_runs(data: str, seed: int, root: str, smoke: bool, methods=METHODS, settings=(),
              pretraining_settings=()) -> dict:
    """{method: scores and seconds} for one seed: the shared pretraining, then each method from it."""
    rows = {}
    runs_of_data = os.path.join(root, folder_name(data, pretraining_settings))  # Each pretraining its own runs.
    pretrained = os.path.join(runs_of_data, f"ae_kmeans-{seed}")
    for method in methods:
        pretraining = method == "ae_kmeans"
        changes = pretraining_settings if pretraining else settings  # One pretraining shared by every method.
        workdir = pretrained if pretraining else os.path.join(runs_of_data, folder_name(f"{method}-{seed}", changes))
        init_from = "" if pretraining else pretrained
        start = time.perf_counter()
        result = loop.run(config_for(method, data, seed, smoke, init_from, changes), workdir)
        rows[method] = {name: result.eval_metrics[f"eval/{name}"] for name in SCORES}
        rows[method]["seconds"] = time.perf_counter() - start
    return rows


def summary(runs: list[dict]) -> dict:
    """{row: {score: (mean, std)}} over seeds."""
    return {row: {name: (float(np.mean([r[row][name] for r in runs])), float(np.std([r[row][name] for r in runs])))
                  for name in (*SCORES, "seconds")} for row in runs[0]}


def merged(old: dict, new: dict) -> dict:
    """`old`'s report with `new`'s rows added (or replaced), seed by seed, and the summary redone."""
    if (old["data"], old["seeds"]) != (new["data"], new["seeds"]):
        raise SystemExit(f"--update: the report holds {old['data']} over {old['seeds']} seeds, "
                         f"this run {new['data']} over {new['seeds']}")
    runs = [{**before, **now} for before, now in zip(old["runs"], new["runs"])]
    rerun = set(new["runs"][0])  # A method run again without --set loses its old settings.
    settings = {method: value for method, value in old.get("settings", {}).items() if method not in rerun}
    settings |= new.get("settings", {})
    return {**old, "runs": runs, "summary": summary(runs), "settings": settings}


def markdown(data: str, table: dict) -> str:
    lines = [f"| {data} | ACC | NMI | ARI | seconds per run |", "|---|---|---|---|---|"]
    for row, values in table.items():
        cells = [f"{values[name][0]:.3f} +- {values[name][1]:.3f}" for name in SCORES]
        lines.append(f"| {row} | " + " | ".join(cells) + f" | {values['seconds'][0]:.0f} |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="mnist_5k", choices=("mnist_5k", "sklearn_digits"))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--workdir", default="", help="where the runs go (default: a temporary folder)")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help="comma-separated; without ae_kmeans, its runs must be in --workdir already")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="a config field for every method that has it (repeatable)")
    parser.add_argument("--pretrain", action="append", default=[], metavar="FIELD=VALUE",
                        help="a config field of the shared pretraining (ae_kmeans), e.g. pretrain.num_epochs=1000")
    parser.add_argument("--smoke", action="store_true", help="tiny configs, to check the script runs")
    parser.add_argument("--out", default="")
    parser.add_argument("--update", action="store_true", help="add these rows to the report already in --out")
    args = parser.parse_args(argv)
    root = args.workdir or tempfile.mkdtemp(prefix="jaxae-clustering-")
    settings, pretraining_settings = field_values(args.set), field_values(args.pretrain)
    methods = args.methods.split(",")
    runs = []
    for seed in range(args.seeds):
        runs.append({"kmeans_raw_pixels": raw_kmeans(args.data, seed),
                     **deep_runs(args.data, seed, root, args.smoke, methods, settings, pretraining_settings)})
        print(json.dumps({"seed": seed, **runs[-1]}), flush=True)
    table = summary(runs)
    given = {method: args.pretrain if method == "ae_kmeans" else args.set for method in methods}
    report = {"data": args.data, "seeds": args.seeds,
              "settings": {method: fields for method, fields in given.items() if fields},
              "runs": runs, "summary": table, "workdir": root}
    if args.update and args.out and os.path.exists(args.out):
        with open(args.out) as previous:
            report = merged(json.load(previous), report)
        table = report["summary"]
    write_report(report, args.out)
    print(markdown(args.data, table))
    return report


if __name__ == "__main__":
    main()
