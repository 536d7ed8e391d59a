"""The experiments that ship with jaxae, by name: the repository's configs/ (installed by a wheel as
jaxae/experiments). Their files are read as train.py reads any config file, never imported as a package.

    experiments.get_config("vae_mnist", "tiny")   # the ConfigDict of configs/vae_mnist.py:tiny
"""

from __future__ import annotations

import difflib
import functools
import os

from jaxae.config.loading import load_config
from jaxae.errors import ConfigError

_NOT_EXPERIMENTS = {"__init__"}


@functools.lru_cache(maxsize=None)
def directory() -> str:
    """The folder of the experiment files: jaxae/experiments in an installed wheel, else configs/
    beside jaxae/ in a source checkout (an editable install)."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for folder in (os.path.join(package, "experiments"), os.path.join(os.path.dirname(package), "configs")):
        if os.path.isfile(os.path.join(folder, "vae_mnist.py")):
            return folder
    raise ConfigError(f"jaxae's experiment configs are missing: neither {package}/experiments (a wheel) nor "
                      f"configs/ beside {package} (a source checkout) holds them")


def names() -> list[str]:
    """Every shipped experiment's name ('vae_mnist', ...), sorted."""
    files = [f[:-3] for f in os.listdir(directory()) if f.endswith(".py")]
    return sorted(name for name in files if name not in _NOT_EXPERIMENTS)


def path(name: str) -> str:
    """The file of experiment `name`; ConfigError naming the nearest one for an unknown name."""
    known = names()
    if name not in known:
        close = difflib.get_close_matches(str(name), known, n=1)
        raise ConfigError(f"no experiment named {name!r}" + (f"; did you mean {close[0]!r}?" if close else
                                                             f"; the experiments are {', '.join(known)}"))
    return os.path.join(directory(), f"{name}.py")


def get_config(name: str, variant: str = ""):
    """The ConfigDict of experiment `name` (variant '' for the full run, 'tiny' for seconds on a CPU)."""
    return load_config(f"{path(name)}:{variant}" if variant else path(name))


def config_argument(argument: str) -> str:
    """A launcher's --config as a file: a file's path (with its ':variant') as it is, and a shipped
    experiment's name ('vae_mnist', 'vae_mnist:tiny') as the path of its file, so that an installed
    wheel's `jaxae train --config vae_mnist` finds it. ConfigError names the nearest experiment for
    an unknown name that is no file either."""
    name, colon, variant = str(argument).partition(":")
    if os.path.isfile(name) or os.sep in name or name.endswith(".py"):
        return argument  # A file (a folder of that name, e.g. the run's workdir, is not): load_config reads it.
    return path(name) + colon + variant
