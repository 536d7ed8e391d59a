"""Test setup: 8 simulated CPU devices, a private tfds data dir so tests never touch ~/, a
session-wide compilation cache, and XLA's CPU back end set to compile cheaply (compile_flags.py).
The temporary folders are removed when the session ends."""

import os
import shutil
import tempfile

from compile_flags import CHEAP_COMPILES

# Temporary folders this process made; pytest_unconfigure removes them (a session's compiled
# programs alone are about 50 MB a process, and they used to stay in the system temp folder).
_MADE_HERE: list[str] = []


def _temporary_folder(prefix: str) -> str:
    path = tempfile.mkdtemp(prefix=prefix)
    _MADE_HERE.append(path)
    return path


# Must precede the first `import jax` anywhere in the test session.
os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8" + CHEAP_COMPILES
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ["TFDS_DATA_DIR"] = _temporary_folder("jaxae-test-tfds-")
# Where tests/cases.py keeps the runs it trains once a process.
os.environ["JAXAE_TEST_RUNS"] = _temporary_folder("jaxae-test-runs-")
# JAX's persistent compilation cache, shared by a test process and the subprocesses it starts
# (they inherit the environment): the many tiny runs compile the same programs again and again,
# and scikit-learn's estimator checks alone fit dozens of times (150 s without it, 62 s with it).
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _temporary_folder("jaxae-test-jax-cache-")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import pytest  # noqa: E402


def pytest_unconfigure(config):
    """Removes the temporary folders this process made, once its tests are over."""
    for path in _MADE_HERE:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def tiny_config():
    """A factory for the tiny variant of a config module, e.g. tiny_config('vae_mnist')."""
    import importlib

    def make(name: str = "vae_mnist"):
        return importlib.import_module(f"configs.{name}").get_config("tiny")

    return make


@pytest.fixture(scope="session")
def digit_sources():
    """(train, test) ArraySources of scikit-learn's 8x8 digits, every fifth digit held out for test."""
    import cases

    return cases.digits()


def pytest_xdist_make_scheduler(config, log):
    """`--dist loadfile` with one refinement: a case of tests/test_every_family.py goes to the worker
    of the family module that reads the same run (`cases.Case.home`), so the case is trained once.
    (xdist's own `--dist loadgroup` cannot do it under pytest 9: the group it appends to an item's
    node id no longer reaches the id, and every group is silently ignored.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    import cases

    class ByFileAndCase(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return cases.worker_group(nodeid)

    return ByFileAndCase(config, log)
