"""Dimensionality reduction: an autoencoder against PCA at the same code size, by test
reconstruction error and by linear probes on the codes (against raw pixels too).

  python -m benchmarks.reduction --out docs/reduction_mnist_5k.json

For each code size k, `configs/ae_mnist.py` (784-512-256-k, grey levels, Bernoulli loss) trains
with `model.latent_dim=k` on the mnist_5k train split, and PCA(k) is fitted on the same pixels
in [0, 1]. Reconstruction: mean squared error per pixel on the 1,000 test digits. Probes: a
logistic regression and a linear SVM (features standardised on the training rows) fitted on
100, 1,000 or all 4,000 labelled training digits (class-balanced draws, mean over --draws draws)
and scored on the test digits.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from benchmarks.anomaly import digit_splits
from benchmarks.measure import add_run_arguments, publish
from jaxae.data.labels import balanced_draw

PROBES = {"logistic": lambda: LogisticRegression(max_iter=3000),
          "linear SVM": lambda: LinearSVC(C=0.1, max_iter=20000)}


def probe_scores(train_x, train_y, test_x, test_y, budgets, draws: int) -> dict:
    """{probe: {labels: mean test accuracy over draws}}."""
    out = {}
    for name, make in PROBES.items():
        out[name] = {}
        for budget in budgets:
            accuracies = []
            for seed in range(draws if budget < len(train_y) else 1):
                chosen = balanced_draw(train_y, budget, seed)
                probe = make_pipeline(StandardScaler(), make()).fit(train_x[chosen], train_y[chosen])
                accuracies.append(probe.score(test_x, test_y))
            out[name][str(budget)] = float(np.mean(accuracies))
    return out


def autoencoder_codes(k: int, workdir: str, smoke: bool):
    """(train codes, test codes, test reconstructions [n, 784]) of ae_mnist with a k-wide code."""
    import jaxae
    from configs import ae_mnist
    from jaxae.engine import loop

    config = ae_mnist.get_config("tiny" if smoke else "")
    config.model.latent_dim = k
    loop.run(config, workdir)
    model = jaxae.load(workdir)
    splits = digit_splits("mnist_5k")
    train, test = splits["train"][0], splits["test"][0]
    return model.encode(train), model.encode(test), model.reconstruct(test).reshape(len(test), -1)


def run(sizes, draws: int, smoke: bool, root: str) -> dict:
    splits = digit_splits("mnist_5k")
    (train_x, train_y), (test_x, test_y) = splits["train"], splits["test"]
    train_x, test_x = train_x.reshape(len(train_x), -1), test_x.reshape(len(test_x), -1)
    budgets = (100, 1000, len(train_y))
    report = {"raw pixels": {"probes": probe_scores(train_x, train_y, test_x, test_y, budgets, draws)}}
    for k in sizes:
        start = time.perf_counter()
        ae_train, ae_test, reconstruction = autoencoder_codes(k, os.path.join(root, f"ae_{k}"), smoke)
        ae_seconds = time.perf_counter() - start
        pca = PCA(k).fit(train_x)
        report[f"AE k={k}"] = {"test_mse": float(np.mean((reconstruction - test_x) ** 2)), "seconds": ae_seconds,
                               "probes": probe_scores(ae_train, train_y, ae_test, test_y, budgets, draws)}
        report[f"PCA k={k}"] = {"test_mse": float(np.mean((pca.inverse_transform(pca.transform(test_x)) - test_x) ** 2)),
                                "probes": probe_scores(pca.transform(train_x), train_y, pca.transform(test_x), test_y,
                                                       budgets, draws)}
    return report


def markdown(report: dict) -> str:
    budgets = list(next(iter(report.values()))["probes"]["logistic"])
    head = " | ".join(f"{probe} ({budget} labels)" for probe in PROBES for budget in budgets)
    lines = [f"| features | test MSE per pixel | {head} |", "|---|---|" + "---|" * (len(PROBES) * len(budgets))]
    for name, row in report.items():
        mse = f"{row['test_mse']:.4f}" if "test_mse" in row else "-"
        cells = " | ".join(f"{row['probes'][probe][budget]:.3f}" for probe in PROBES for budget in budgets)
        lines.append(f"| {name} | {mse} | {cells} |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="2,8,32", help="code sizes, comma-separated")
    parser.add_argument("--draws", type=int, default=5, help="label draws per budget below the whole split")
    add_run_arguments(parser)
    args = parser.parse_args(argv)
    root = args.workdir or tempfile.mkdtemp(prefix="jaxae-reduction-")
    report = run([int(size) for size in args.sizes.split(",")], args.draws, args.smoke, root)
    return publish(report, markdown(report), args.out, data="mnist_5k")


if __name__ == "__main__":
    main()
