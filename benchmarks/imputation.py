"""The imputation table: cells of a table hidden at random, filled by each imputer, scored by the
RMSE of the hidden cells.

  python -m benchmarks.imputation --seeds 5 --out docs/imputation.json

Tables: scikit-learn's breast cancer (569 x 30), wine (178 x 13) and diabetes (442 x 10), all
numeric. For each seed, `--hide` (0.2) of the cells are drawn uniformly and hidden (set to NaN);
each imputer sees the whole table with its holes (as `fit_transform` would) and fills them. The
RMSE is over the hidden cells, each in units of its column's standard deviation over the cells
left visible, so the columns count alike; mean +- std over seeds.

Imputers: the column mean (`SimpleImputer`), `KNNImputer` (5 neighbours, on columns standardised
by their visible cells, as its distances need), `IterativeImputer` (Bayesian ridge, 10 rounds) and jaxae's `AutoencoderTransformer(...).fit(X).impute(X)`: a dense
autoencoder trained on the observed cells only (missing ones masked out of the loss), which hides
`hide_fraction` of the observed cells from its input at each step so that it learns to fill them.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.measure import publish

TABLES = ("breast_cancer", "wine", "diabetes")
# Chosen on seed 0 among five settings (codes of 8 or 16, one or two hidden layers, 300 or 600
# epochs, hiding 0.25 or 0.4 of the cells; docs/estimators.md lists them): the best on two of the three tables.
AUTOENCODER = dict(n_components=16, hidden=(128,), epochs=600, batch_size=32, learning_rate=1e-3, hide_fraction=0.25)


def table(name: str) -> np.ndarray:
    from sklearn import datasets

    return getattr(datasets, f"load_{name}")().data.astype(np.float64)


def imputers(seed: int, smoke: bool) -> dict:
    """{name: a function table with NaN -> the table filled}."""
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401  (scikit-learn's opt-in)
    from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer

    import jaxae

    options = dict(AUTOENCODER, epochs=2) if smoke else AUTOENCODER
    return {"column mean": lambda x: SimpleImputer().fit_transform(x),
            "KNNImputer (k=5)": lambda x: standardised(KNNImputer(n_neighbors=5).fit_transform, x),
            "IterativeImputer": lambda x: IterativeImputer(max_iter=10, random_state=seed).fit_transform(x),
            "jaxae autoencoder": lambda x: jaxae.AutoencoderTransformer(**options, random_state=seed).fit(x).impute(x)}


def standardised(impute, x: np.ndarray) -> np.ndarray:
    """`impute` on x's columns scaled to mean 0 and deviation 1 over their visible cells, scaled back."""
    mean, deviation = np.nanmean(x, axis=0), np.nanstd(x, axis=0)
    return impute((x - mean) / deviation) * deviation + mean


def run(name: str, seed: int, hide: float, smoke: bool) -> dict:
    """{imputer: {'rmse', 'seconds'}} on `name` with `hide` of its cells hidden by `seed`."""
    full = table(name)
    hidden = np.random.default_rng([seed, len(full)]).random(full.shape) < hide
    holes = np.where(hidden, np.nan, full)
    scale = np.nanstd(holes, axis=0)
    out = {}
    for imputer, fill in imputers(seed, smoke).items():
        start = time.perf_counter()
        filled = fill(holes)
        seconds = time.perf_counter() - start
        assert np.allclose(filled[~hidden], full[~hidden]), f"{imputer} changed a visible cell"
        out[imputer] = {"rmse": float(np.sqrt(np.mean(((filled - full) / scale)[hidden] ** 2))), "seconds": seconds}
    return out


def markdown(results: dict) -> str:
    names = list(next(iter(results.values()))[0])
    lines = ["| imputer | " + " | ".join(f"{name} RMSE" for name in results) + " | seconds (all tables) |",
             "|---|" + "---|" * (len(results) + 1)]
    for imputer in names:
        cells = []
        for seeds in results.values():
            values = [seed[imputer]["rmse"] for seed in seeds]
            cells.append(f"{np.mean(values):.3f}" + (f" +- {np.std(values):.3f}" if len(values) > 1 else ""))
        seconds = sum(np.mean([seed[imputer]["seconds"] for seed in seeds]) for seeds in results.values())
        lines.append(f"| {imputer} | " + " | ".join(cells) + f" | {seconds:.1f} |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--hide", type=float, default=0.2, help="the fraction of cells hidden")
    parser.add_argument("--smoke", action="store_true", help="one table, one seed, two epochs: checks the script runs")
    parser.add_argument("--out", default="")
    args = parser.parse_args(argv)
    names, seeds = (TABLES[:1], 1) if args.smoke else (TABLES, args.seeds)
    results = {name: [run(name, seed, args.hide, args.smoke) for seed in range(seeds)] for name in names}
    return publish(results, markdown(results), args.out, hide=args.hide, seeds=seeds, autoencoder=AUTOENCODER)


if __name__ == "__main__":
    main()
