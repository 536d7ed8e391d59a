"""Whole splits in host memory: reading every example once, validated, for the device-resident
path, the evaluator and whole-split maps."""

from __future__ import annotations

import numpy as np

from jaxae.data import spec as specs
from jaxae.data.sources import ArraySource


def read_all(source, fields=None, chunk: int = 4096) -> dict[str, np.ndarray]:
    """`fields` (default all) of every example of `source`, read `chunk` at a time, each chunk
    checked against the source's spec (`spec.check_read`: unless the source checked them when made)
    before it goes anywhere.

    Returns:
      {name: [len(source), ...]}.
    """
    fields = list(fields or source.spec)
    parts = []
    for start in range(0, len(source), chunk):
        indices = np.arange(start, min(start + chunk, len(source)))
        part = source.read(indices, fields)
        specs.check_read(source, part, indices)
        parts.append(part)
    return {name: np.concatenate([part[name] for part in parts]) for name in fields}


def split_bytes(source, fields=None) -> int:
    """Bytes that `fields` (default all) of every example of `source` take in memory."""
    return len(source) * sum(int(np.prod(source.spec[name].shape, dtype=np.int64)) * np.dtype(source.spec[name].dtype).itemsize
                             for name in (fields or source.spec))


def in_host_memory(source, budget_mb: float, fields=None):
    """`source` decoded once into an ArraySource of `fields` when it fits `budget_mb` (else `source`).

    Decoding tfds records costs ~50 us per image in Python, as much as a VAE step on a CPU, so a
    split that is read again and again (every epoch, every eval) is decoded only once.
    """
    if isinstance(source, ArraySource) or split_bytes(source, fields) > budget_mb * 2**20:
        return source
    fields = list(fields or source.spec)
    return ArraySource(read_all(source, fields), name=source.where,
                       checked_spec={name: source.spec[name] for name in fields}, fingerprint=source.fingerprint(),
                       metadata=getattr(source, "metadata", None), origin=getattr(source, "origin", None))
