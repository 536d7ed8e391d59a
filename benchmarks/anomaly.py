"""The anomaly-detection table: train on the normal class, score a test split where the anomaly
class is mixed in, report AUROC and AUPRC (average precision), which need no threshold.

  python -m benchmarks.anomaly --data mnist_5k --out docs/anomaly_mnist_5k.json
  python -m benchmarks.anomaly --data sklearn_digits --out docs/anomaly_sklearn_digits.json
  python -m benchmarks.anomaly --data breast_cancer --seeds 5 --out docs/anomaly_breast_cancer.json
  python -m benchmarks.anomaly --data breast_cancer_new_rows --seeds 3 --out docs/anomaly_new_rows.json

Digits ('one digit out'): for each digit d, the detectors train on the train split's other nine
digits and score the whole test split, d being the anomaly (about a tenth of it); the table gives
the mean over the ten choices of d, and its standard deviation over seeds when --seeds > 1.
breast_cancer: scikit-learn's table, trained on the benign train rows (every fifth row of a class
is test, as the embedded `sklearn_breast_cancer`), malignant test rows the anomalies.

breast_cancer_new_rows: what `predict` flags on new normal rows. For each seed the benign rows are
split 70/30 by that seed; each detector, with contamination=0.05, trains on the 70 % and labels the
other 30 % (new normal rows, of which about 5 % should be flagged) and the malignant rows; AUROC and
AUPRC score the benign 30 % against the malignant rows. jaxae's detector sets its threshold on
held-out training rows (its default) and, for comparison, on its training scores (holdout=0, PyOD's
rule).

Detectors: `jaxae.AnomalyDetector` with its defaults (a dense autoencoder; images by their
Bernoulli likelihood, tables standardised by squared error), the same with kind='vae' (the
negative ELBO) on images; PCA's reconstruction error at the same code size (8); PyOD's
AutoEncoder and IForest with their defaults, on pixels in [0, 1] or the raw table.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from sklearn.decomposition import PCA
from sklearn.metrics import average_precision_score, roc_auc_score

from benchmarks.measure import write_report

DATA = ("mnist_5k", "sklearn_digits", "breast_cancer", "breast_cancer_new_rows")
CONTAMINATION = 0.05  # breast_cancer_new_rows: the share of new normal rows a detector should flag.


def digit_splits(name: str):
    """{'train'|'test': (images [n, H, W] float in [0, 1], labels [n])} of an embedded digit set."""
    from jaxae.data import host, sources

    out = {}
    for split in ("train", "test"):
        data = host.read_all(sources.open_tfds(name, split), ["image", "label"])
        out[split] = (data["image"][..., 0].astype(np.float32) / 255.0, data["label"])
    return out


def breast_cancer_splits():
    """{'train'|'test': (rows [n, 30] raw, labels [n] with 1 = malignant)}."""
    from sklearn.datasets import load_breast_cancer

    from jaxae.data.builders import every_fifth_is_test, split_masks

    table = load_breast_cancer()
    malignant = (table.target == 0).astype(np.int64)
    masks = split_masks(table.target, every_fifth_is_test)
    return {split: (table.data[mask], malignant[mask]) for split, mask in masks.items()}


def pca_scores(train: np.ndarray, test: np.ndarray, components: int = 8) -> np.ndarray:
    """Squared reconstruction error of each test row under PCA fitted on the train rows."""
    pca = PCA(components).fit(train)
    return ((pca.inverse_transform(pca.transform(test)) - test) ** 2).sum(1)


def detectors(images: bool, seed: int, smoke: bool, only: tuple[str, ...] = ()):
    """{name: fit(train) -> score(test) function} for one data kind (those whose name starts with
    one of `only`, when given)."""
    import jaxae
    from pyod.models.auto_encoder import AutoEncoder
    from pyod.models.iforest import IForest

    epochs = {"epochs": 2} if smoke else {}
    flat = (lambda x: x.reshape(len(x), -1)) if images else (lambda x: x)

    def ours(kind):
        def fit(train):
            detector = jaxae.AnomalyDetector(kind=kind, random_state=seed, **epochs).fit(train)
            return detector.decision_function
        return fit

    def pyod(make):
        def fit(train):
            detector = make().fit(flat(train))
            return lambda test: detector.decision_function(flat(test))
        return fit

    def pca(train):
        return lambda test: pca_scores(flat(train), flat(test))

    table = {"jaxae AE": ours("ae")}
    if images:
        table["jaxae VAE"] = ours("vae")
    table["PCA (8)"] = pca
    table["PyOD AutoEncoder"] = pyod(lambda: AutoEncoder(random_state=seed, verbose=0, epoch_num=1 if smoke else 10))
    table["PyOD IForest"] = pyod(lambda: IForest(random_state=seed))
    return {name: fit for name, fit in table.items() if not only or name.startswith(only)}


def one_protocol(splits, normal_classes, anomaly_test, images, seed, smoke, only=()):
    """{detector: {'auroc', 'auprc', 'seconds'}} for one choice of normal training rows."""
    train = splits["train"][0][normal_classes]
    test, truth = splits["test"][0], anomaly_test
    results = {}
    for name, fit in detectors(images, seed, smoke, only).items():
        start = time.perf_counter()
        scores = fit(train)(test)
        results[name] = {"auroc": float(roc_auc_score(truth, scores)), "auprc": float(average_precision_score(truth, scores)),
                         "seconds": time.perf_counter() - start}
    return results


def new_rows(seed: int, smoke: bool) -> dict:
    """{detector: {'new_normal_flagged', 'training_flagged', 'malignant_flagged', 'auroc', 'auprc',
    'seconds'}} for one seed's 70/30 split of the benign rows (module docstring)."""
    import jaxae
    from pyod.models.auto_encoder import AutoEncoder
    from pyod.models.iforest import IForest
    from sklearn.datasets import load_breast_cancer

    table = load_breast_cancer()
    benign, malignant = table.data[table.target == 1], table.data[table.target == 0]
    order = np.random.default_rng(seed).permutation(len(benign))
    cut = int(round(0.7 * len(benign)))
    train, new = benign[order[:cut]], benign[order[cut:]]
    epochs = {"epochs": 2} if smoke else {}
    detectors = {
        "jaxae AE (threshold on held-out rows)": lambda: jaxae.AnomalyDetector(CONTAMINATION, random_state=seed, **epochs),
        "jaxae AE (threshold on training rows)": lambda: jaxae.AnomalyDetector(CONTAMINATION, holdout=0.0,
                                                                              random_state=seed, **epochs),
        "PyOD AutoEncoder": lambda: AutoEncoder(contamination=CONTAMINATION, random_state=seed, verbose=0,
                                                epoch_num=1 if smoke else 10),
        "PyOD IForest": lambda: IForest(contamination=CONTAMINATION, random_state=seed)}
    truth = np.r_[np.zeros(len(new)), np.ones(len(malignant))]
    results = {}
    for name, make in detectors.items():
        start = time.perf_counter()
        detector = make().fit(train)
        scores = detector.decision_function(np.concatenate([new, malignant]))
        results[name] = {"new_normal_flagged": float(detector.predict(new).mean()),
                         "training_flagged": float(np.mean(detector.labels_)),
                         "malignant_flagged": float(detector.predict(malignant).mean()),
                         "auroc": float(roc_auc_score(truth, scores)), "auprc": float(average_precision_score(truth, scores)),
                         "seconds": time.perf_counter() - start}
    return results


def new_rows_markdown(seeds: list[dict]) -> str:
    keys = ("new_normal_flagged", "training_flagged", "malignant_flagged", "auroc", "auprc")
    lines = ["| detector (contamination 0.05) | new benign rows flagged | training rows flagged | malignant rows flagged "
             "| AUROC | AUPRC | seconds per fit |", "|---|---|---|---|---|---|---|"]
    for name in seeds[0]:
        cells = [f"{np.mean([seed[name][key] for seed in seeds]):.3f} +- {np.std([seed[name][key] for seed in seeds]):.3f}"
                 for key in keys]
        seconds = np.mean([seed[name]["seconds"] for seed in seeds])
        lines.append(f"| {name} | {' | '.join(cells)} | {seconds:.1f} |")
    return "\n".join(lines)


def run(data: str, seed: int, smoke: bool, only=()) -> dict:
    """{'per_choice': [...], 'mean': {detector: {'auroc', 'auprc', 'seconds'}}} for one seed."""
    if data == "breast_cancer":
        splits = breast_cancer_splits()
        per_choice = [one_protocol(splits, splits["train"][1] == 0, splits["test"][1], False, seed, smoke, only)]
    else:
        splits = digit_splits(data)
        digits = range(2) if smoke else range(10)
        per_choice = [one_protocol(splits, splits["train"][1] != digit, splits["test"][1] == digit, True, seed, smoke,
                                   only) for digit in digits]
    return {"per_choice": per_choice, "mean": means(per_choice)}


def means(per_choice: list[dict]) -> dict:
    """{detector: {'auroc', 'auprc', 'seconds'}}: the means over the choices of normal rows."""
    return {name: {key: float(np.mean([choice[name][key] for choice in per_choice])) for key in ("auroc", "auprc", "seconds")}
            for name in per_choice[0]}


def updated(previous: dict, seeds: list[dict]) -> list[dict]:
    """`previous` report's seeds with the detectors measured anew in `seeds` replaced (the others kept)."""
    merged = []
    for old, new in zip(previous["seeds"], seeds):
        per_choice = [old_choice | new_choice for old_choice, new_choice in zip(old["per_choice"], new["per_choice"])]
        merged.append({"per_choice": per_choice, "mean": means(per_choice)})
    return merged


def markdown(data: str, seeds: list[dict]) -> str:
    lines = [f"| detector ({data}) | AUROC | AUPRC | seconds per fit |", "|---|---|---|---|"]
    for name in seeds[0]["mean"]:
        cells = []
        for key in ("auroc", "auprc"):
            values = [seed["mean"][name][key] for seed in seeds]
            cells.append(f"{np.mean(values):.3f}" + (f" +- {np.std(values):.3f}" if len(values) > 1 else ""))
        seconds = np.mean([seed["mean"][name]["seconds"] for seed in seeds])
        lines.append(f"| {name} | {cells[0]} | {cells[1]} | {seconds:.1f} |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="mnist_5k", choices=DATA)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--smoke", action="store_true", help="two digits, two epochs: checks the script runs")
    parser.add_argument("--out", default="")
    parser.add_argument("--only", default="", help="comma-separated name prefixes: measure those detectors only, "
                                                   "keeping the others' figures from --out (e.g. 'jaxae')")
    args = parser.parse_args(argv)
    if args.data == "breast_cancer_new_rows":
        seeds = [new_rows(seed, args.smoke) for seed in range(args.seeds)]
        report = {"data": args.data, "seeds": seeds, "table": new_rows_markdown(seeds)}
    else:
        only = tuple(name for name in args.only.split(",") if name)
        seeds = [run(args.data, seed, args.smoke, only) for seed in range(args.seeds)]
        if only:
            with open(args.out) as previous:
                seeds = updated(json.load(previous), seeds)
        report = {"data": args.data, "seeds": seeds, "table": markdown(args.data, seeds)}
    write_report(report, args.out)
    print(report["table"])
    return report


if __name__ == "__main__":
    main()
