"""A whole split, batch by batch: padded and masked global batches split over devices and
processes, and the map of a pure function over every example, returned as NumPy arrays.

The evaluator sums over these batches; phase hooks, `jaxae.load(...).encode` and the estimators
map over them. One definition of the batching, so every one of them sees each example once, with
the same 'index', on any number of devices.
"""

from __future__ import annotations

import functools

import jax
import numpy as np

from jaxae.data import host, pipeline
from jaxae.data.sources import ArraySource
from jaxae.devices import parallel
from jaxae.errors import DataError

MASK = "mask"  # Not a data field: 1 for real examples, 0 for the padding of the last batch.


@functools.lru_cache(maxsize=64)
def _compiled(fn, mesh):
    """`fn` under jit with replicated outputs (every process can read the whole result); one per
    function and mesh, so maps by new WholeSplits (each `jaxae.load(...).encode` call) reuse it."""
    return jax.jit(fn, out_shardings=parallel.replicated(mesh))


def padded_size(batch_size: int, mesh) -> int:
    """`batch_size` rounded up to a multiple of the mesh's devices and processes."""
    unit = int(np.lcm(mesh.devices.size, jax.process_count()))
    return -(-batch_size // unit) * unit


class WholeSplit:
    """One split that pure functions are mapped over.

    Args:
      source: the split (see `data.sources`); decoded into host memory once when it fits
        `host_memory_budget_mb`.
      mesh: the devices (and processes) that share each batch.
      batch_size: examples per global batch, rounded up to a multiple of the devices.
      fields: the source's fields that batches carry (default all), besides 'index'.
    """

    def __init__(self, source, mesh, batch_size: int, fields=None, *, host_memory_budget_mb: float = 4096):
        self.fields = list(fields or source.spec)
        self.source = host.in_host_memory(source, host_memory_budget_mb, self.fields)
        self.mesh, self.batch_size = mesh, padded_size(batch_size, mesh)

    def __len__(self) -> int:
        return len(self.source)

    def batches(self):
        """Every example once, in order, as global arrays split over the mesh.

        Yields:
          ({field: [batch_size, ...] for each field, 'index': [batch_size] int32},
           mask [batch_size] float32), padding clamped to the last example and masked out.
        """
        for indices, mask in pipeline.padded_batches(len(self.source), self.batch_size,
                                                     process_index=jax.process_index(),
                                                     process_count=jax.process_count()):
            batch = parallel.host_to_global({**pipeline.read_batch(self.source, indices, self.fields), MASK: mask},
                                            self.mesh)
            yield batch, batch.pop(MASK)

    def map(self, fn, *args) -> dict[str, np.ndarray]:
        """fn(*args, batch) -> {name: [batch, ...] per example}, over every example of the split.

        `fn` must be pure and per example (no reduction over the batch); `args` (e.g. the train
        state) are passed to every call as they are. It is compiled once per function and mesh:
        pass the same one each time (a method or a module-level function, not a new lambda).
        Returns {name: [n, ...]} NumPy arrays.
        """
        compiled, parts = _compiled(fn, self.mesh), []
        for number, (batch, _) in enumerate(self.batches()):
            # Fetched before the next batch is dispatched: one collective program in flight at a time.
            out = jax.device_get(compiled(*args, batch))
            real = number * self.batch_size + np.arange(self.batch_size) < len(self.source)
            parts.append(jax.tree.map(lambda x: x[real], out))
        return jax.tree.map(lambda *xs: np.concatenate(xs), *parts)


def of_images(images, image_shape, mesh, batch_size: int) -> WholeSplit:
    """Raw images [n, H, W(, C)] as a split; DataError unless each is `image_shape` (H, W, C)."""
    source = ArraySource.from_images(images, name="images")
    if source.spec["image"].shape != tuple(image_shape):
        raise DataError(f"images are {source.spec['image'].shape} per example but this model was trained on "
                        f"{tuple(image_shape)}")
    return WholeSplit(source, mesh, batch_size)


def of_codes(codes, latent_dim: int, mesh, batch_size: int) -> WholeSplit:
    """Codes [n, latent_dim] as a split (field 'code'); DataError for any other shape."""
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[1] != latent_dim:
        raise DataError(f"codes must be [n, {latent_dim}]; got shape {codes.shape}")
    return WholeSplit(ArraySource({"code": codes}, kinds={"code": "dense"}, name="codes"), mesh, batch_size)


def of_size(num: int, mesh, batch_size: int) -> WholeSplit:
    """A split of `num` examples with no fields, only their 'index' (e.g. one draw from a prior each)."""
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num <= 0:
        raise DataError(f"num={num!r} must be a positive integer")
    source = ArraySource({"slot": np.zeros((num, 1), np.float32)}, kinds={"slot": "dense"}, name="draws")
    return WholeSplit(source, mesh, batch_size)
