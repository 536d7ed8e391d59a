"""Test setup: 8 simulated CPU devices, and a private tfds data dir so tests never touch ~/."""

import os
import tempfile

# Must precede the first `import jax` anywhere in the test session.
os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ["TFDS_DATA_DIR"] = tempfile.mkdtemp(prefix="jaxae-test-tfds-")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_config():
    """A factory for the tiny variant of a config module, e.g. tiny_config('vae_mnist')."""
    import importlib

    def make(name: str = "vae_mnist"):
        return importlib.import_module(f"configs.{name}").get_config("tiny")

    return make
