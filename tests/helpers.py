"""What the tests share: configs with fields set, training on opened sources, launching train.py,
reading saved parameters and metrics, the check that a killed run resumes bit-exactly, clustering
accuracy by SciPy's Hungarian method, and a small mixed table."""

import os
import shutil
import subprocess
import sys

import chex
import jax
import numpy as np
import pandas as pd

from compile_flags import CHEAP_COMPILES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The session's compilation cache (conftest.py), never the user's ~/.cache.
TEST_COMPILE_CACHE = os.environ.get("JAX_COMPILATION_CACHE_DIR") or "none"


def as_a_user_runs() -> dict:
    """The environment less the tests' cheap-compile XLA flags, for code run as users run it (README
    snippets, the notebook), which trains long enough for the default optimisation level to pay."""
    return {**os.environ, "XLA_FLAGS": os.environ.get("XLA_FLAGS", "").replace(CHEAP_COMPILES, "")}


def tiny(config_name="vae_mnist", **fields):
    """The config's tiny variant with `fields` set; 'a__b' names the field a.b."""
    import importlib

    config = importlib.import_module(f"configs.{config_name}").get_config("tiny")
    for field, value in fields.items():
        section, _, name = field.replace("__", ".").rpartition(".")
        (config[section] if section else config)[name] = value
    return config


def train_py(workdir, *overrides, config="configs/vae_mnist.py:tiny"):
    return [sys.executable, "train.py", f"--config={config}", f"--workdir={workdir}",
            f"--config.compile_cache_dir={TEST_COMPILE_CACHE}", *overrides]


def start(workdir, *overrides, **kwargs):
    return subprocess.Popen(train_py(workdir, *overrides), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def run(workdir, *overrides, timeout=300, config="configs/vae_mnist.py:tiny"):
    return subprocess.run(train_py(workdir, *overrides, config=config), cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def saved_steps(workdir) -> list[int]:
    directory = os.path.join(workdir, "checkpoints")
    return sorted(int(n) for n in os.listdir(directory) if n.isdigit()) if os.path.isdir(directory) else []


def temporary_folders(workdir) -> list[str]:
    directory = os.path.join(workdir, "checkpoints")
    return [n for n in os.listdir(directory) if "tmp" in n] if os.path.isdir(directory) else []


def load_params(workdir, step: int):
    """The parameters saved at `step`, as NumPy arrays."""
    import jaxae
    from jaxae.devices import parallel

    return jax.tree.map(np.asarray, jaxae.load(str(workdir), step=step, mesh=parallel.make_mesh(1)).params)


def metrics_without_timing(workdir):
    from jaxae.runs.metric_writers import read_metrics

    return [{k: v for k, v in r.items() if k != "train/examples_per_sec"} for r in read_metrics(str(workdir))]


def train(workdir, config, sources, mesh=None):
    """`jaxae.train` of `config` on (train, eval) `sources` in `workdir`, on one device by default."""
    from jaxae.devices import parallel
    from jaxae.engine import loop

    return loop.train(config, str(workdir), *sources, mesh or parallel.make_mesh(1))


def killed_copy(tmp_path, workdir, keep_through: int):
    """A copy of a finished run as if it had been killed right after saving step `keep_through`."""
    copy = tmp_path / f"killed-{keep_through}"
    shutil.copytree(workdir, copy)
    for name in os.listdir(copy / "checkpoints"):
        if name.isdigit() and int(name) > keep_through:
            shutil.rmtree(copy / "checkpoints" / name)
    return copy


def assert_resumes_exactly(tmp_path, workdir, result, config, sources, keep_through: int):
    """A copy of `workdir` killed after step `keep_through`, resumed: the same state and metric
    files as the uninterrupted `result`. Returns the copy's folder."""
    killed = killed_copy(tmp_path, workdir, keep_through)
    resumed = train(killed, config, sources)
    chex.assert_trees_all_equal(jax.device_get(resumed.state), jax.device_get(result.state))
    assert metrics_without_timing(killed) == metrics_without_timing(workdir)
    return killed


def hungarian_accuracy(labels, predicted) -> float:
    """The share of examples whose cluster, matched one-to-one to a class by SciPy's Hungarian method,
    is their class: an independent reference for the library's clustering accuracy."""
    import scipy.optimize

    labels, predicted = np.asarray(labels), np.asarray(predicted)
    counts = np.zeros((predicted.max() + 1, labels.max() + 1))
    np.add.at(counts, (predicted, labels), 1)
    rows, columns = scipy.optimize.linear_sum_assignment(-counts)
    return counts[rows, columns].sum() / len(labels)


def with_holes(frame, fraction=0.1, seed=0, columns=("weight", "size", "colour")):
    """`frame` with about `fraction` of the cells of `columns` missing (NaN or None), drawn by `seed`."""
    rng = np.random.default_rng(seed)
    frame = frame.copy()
    for name in columns:
        frame.loc[rng.random(len(frame)) < fraction, name] = None  # NaN in a number column, a missing category else.
    return frame


def mixed_frame(n=256, seed=0):
    """A table whose columns depend on one hidden factor: a number, an ordinal size, two categories."""
    rng = np.random.default_rng(seed)
    factor = rng.integers(0, 3, n)
    return pd.DataFrame({
        "weight": factor * 2.0 + rng.normal(0, 0.3, n),
        "size": pd.Categorical(np.array(["S", "M", "L"])[factor], categories=["S", "M", "L"], ordered=True),
        "colour": np.array(["red", "green", "blue"])[factor],
        "shape": pd.Categorical(np.array(["round", "square"])[rng.integers(0, 2, n)]),
        "flag": rng.random(n) < 0.5,
    })
