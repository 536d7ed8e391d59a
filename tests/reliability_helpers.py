"""Shared pieces of the reliability tests: launching train.py and reading final parameters."""

import os
import subprocess
import sys

import jax
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The session's compilation cache (conftest.py), never the user's ~/.cache.
TEST_COMPILE_CACHE = os.environ.get("JAX_COMPILATION_CACHE_DIR") or "none"


def as_a_user_runs() -> dict:
    """The environment less conftest's cheap-compile XLA flag, for code run as users run it (README
    snippets, the notebook), which trains long enough for the default optimisation level to pay."""
    return {**os.environ, "XLA_FLAGS": os.environ.get("XLA_FLAGS", "").replace(" --xla_backend_optimization_level=0", "")}


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
