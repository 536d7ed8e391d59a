"""JAX's persistent compilation cache, on by default for `train.py` so a second start skips compiling."""

from __future__ import annotations

import os
import tempfile

import jax

from jaxae.errors import ConfigError


def default_cache_dir() -> str:
    """$XDG_CACHE_HOME/jaxae/jax, else ~/.cache/jaxae/jax."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "jaxae", "jax")


def enable_compile_cache(setting: str = "") -> str | None:
    """Points JAX at a persistent cache ('' for the default folder, 'none' to leave it off).

    Returns the folder in use, or None. Call before the first compilation.
    """
    if setting == "none":  # Off, even where $JAX_COMPILATION_CACHE_DIR names a folder.
        jax.config.update("jax_compilation_cache_dir", None)
        return None
    path = os.path.abspath(os.path.expanduser(setting or default_cache_dir()))
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as error:
        raise ConfigError(f"compile_cache_dir={setting!r}: the compile cache {path!r} is not writable "
                          f"({error.strerror or error}); name another folder, or 'none' to run without a cache") from None
    jax.config.update("jax_compilation_cache_dir", path)
    # Small models compile in well under JAX's default 1 s threshold; cache them too.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path
