"""Two ways to run K training steps, with the same batches and the same results.

* ``DeviceResidentRunner``: the whole training split lives on the devices; K steps run in one
  jitted ``lax.scan`` over index batches, so the host dispatches once per K steps.
* ``StreamingRunner``: host batches come from the grain pipeline (read ahead in threads) and
  each step is one jitted call; for data larger than device memory.

Both return the metric *sums* over the K steps as device arrays: nothing waits for the device
until the loop asks for the numbers.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxae import parallel
from jaxae.data import pipeline
from jaxae.data.sources import validate_arrays


def gather_step(train_step, state, data, batch_indices):
    """One step on the batch gathered from device-resident `data` at `batch_indices` [batch]."""
    return train_step(state, {name: jnp.take(array, batch_indices, axis=0) for name, array in data.items()})


def scan_steps(train_step, state, data, indices):
    """Runs len(indices) steps, gathering each batch on the device.

    Args:
      train_step: (state, batch) -> (state, metrics).
      data: {'image': [n, H, W, C], ...} the whole split, on the devices.
      indices: [K, batch] int32 example indices.
    Returns:
      (state after K steps, {name: sum of the K per-step values}).
    """

    state, metrics = jax.lax.scan(lambda carry, row: gather_step(train_step, carry, data, row), state, indices)
    return state, jax.tree.map(lambda m: jnp.sum(m, axis=0), metrics)


def add_metrics(total, metrics):
    """Adds a metrics dict into a running total (None to start)."""
    return metrics if total is None else jax.tree.map(jnp.add, total, metrics)


class DeviceResidentRunner:
    """K steps per dispatch over data held on the devices (replicated over the mesh).

    mode: 'jit' (sharded jit over the mesh) or 'pmap' (the same step under `jax.pmap`, with the
    trainer averaging gradients over the device axis).
    """

    def __init__(self, train_step, source, order: pipeline.BatchOrder, mesh, *, mode: str = "jit"):
        self.order, self.mesh, self.mode = order, mesh, mode
        everything = read_all(source)
        self.data = parallel.put_replicated({"image": everything["image"]}, mesh)
        compile_ = _compiler(mode)
        self._run = compile_(functools.partial(scan_steps, train_step))
        self._run_one = compile_(functools.partial(gather_step, train_step))
        if mode == "pmap":
            self.data = parallel.stack_over_devices(self.data, mesh)

    def __call__(self, state, step: int, count: int):
        if count == 1:
            # No loop at all: XLA:CPU runs convolution gradients inside a while loop in layouts
            # about 5x slower (docs/performance.md), so conv configs dispatch one step at a time.
            run, indices, batch_axis = self._run_one, self.order.batch_indices(step).astype(np.int32), 0
        else:
            run, indices, batch_axis = self._run, self.order.chunk_indices(step, count), 1
        # Every process holds the same global indices and places the part its devices need.
        indices = parallel.global_from_full(indices, parallel.batch_sharding(self.mesh, batch_axis + 1))
        if self.mode == "jit":
            return run(state, self.data, indices)
        indices = parallel.split_over_devices(indices, self.mesh, batch_axis)
        state, metrics = run(parallel.stack_over_devices(state, self.mesh), self.data, indices)
        return parallel.unstack_from_devices((state, metrics), self.mesh)


class StreamingRunner:
    """One jitted (or pmapped) step per host batch read by the grain pipeline."""

    def __init__(self, train_step, source, order: pipeline.BatchOrder, mesh, *, start_step: int,
                 stop_step: int, prefetch: int, mode: str = "jit"):
        self.mesh, self.mode, self._train_step = mesh, mode, train_step

        def step_and_add(state, total, batch):  # One dispatch per step: metrics are summed on the device.
            state, metrics = train_step(state, batch)
            return state, add_metrics(total, metrics)

        self._step = _compiler(mode)(step_and_add)
        self._batches = pipeline.stream_batches(
            source, order, start_step, stop_step, process_index=jax.process_index(),
            process_count=jax.process_count(), prefetch=prefetch)
        self._next_step = start_step
        self._metric_zeros = None

    def _zero_metrics(self, state, batch):
        """Zeros like one step's metrics, placed like them (per device under pmap); traced once."""
        if self._metric_zeros is None:
            if self.mode == "pmap":
                step_fn = jax.vmap(self._train_step, axis_name=parallel.DATA_AXIS)
                placement = parallel.batch_sharding(self.mesh)
            else:
                step_fn, placement = self._train_step, parallel.replicated(self.mesh)
            _, shapes = jax.eval_shape(step_fn, state, batch)
            self._metric_zeros = parallel.zeros_placed(shapes, placement)
        return self._metric_zeros

    def _next_batch(self):
        # Unsupervised training needs the images only: labels stay on the host.
        batch = parallel.host_to_global({"image": next(self._batches)["image"]}, self.mesh)
        return parallel.split_over_devices(batch, self.mesh) if self.mode == "pmap" else batch

    def __call__(self, state, step: int, count: int):
        if step != self._next_step:
            raise RuntimeError(f"streaming runner is at step {self._next_step}, asked for {step}")
        batch = self._next_batch()
        if self.mode == "pmap":
            state = parallel.stack_over_devices(state, self.mesh)
        total = self._zero_metrics(state, batch)
        for i in range(count):
            state, total = self._step(state, total, batch if i == 0 else self._next_batch())
        self._next_step += count
        return parallel.unstack_from_devices((state, total), self.mesh) if self.mode == "pmap" else (state, total)


def _compiler(mode: str):
    """jit with the state donated, or pmap over the data axis with the state donated."""
    if mode == "pmap":
        return lambda fn: jax.pmap(fn, axis_name=parallel.DATA_AXIS, donate_argnums=0)
    return lambda fn: jax.jit(fn, donate_argnums=0)


def read_all(source, chunk: int = 4096) -> dict[str, np.ndarray]:
    """Every example of a source as stacked arrays, read `chunk` at a time and validated
    (dtype, range, NaNs; `sources.validate_arrays`) before it goes to the devices."""
    parts = [source.read(np.arange(start, min(start + chunk, len(source))))
             for start in range(0, len(source), chunk)]
    everything = {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
    name = f"{getattr(source, 'name', 'the')} {getattr(source, 'split', '')} images".replace("  ", " ")
    everything["image"], everything["label"] = validate_arrays(everything["image"], everything.get("label"), name=name)
    return everything


def in_host_memory(source, budget_mb: float):
    """`source` decoded once into an ArraySource when it fits `budget_mb` (else `source` itself).

    Decoding tfds records costs ~50 us per image in Python, as much as a VAE step on a CPU, so a
    split that is read again and again (every epoch, every eval) is decoded only once.
    """
    from jaxae.data.sources import ArraySource

    if isinstance(source, ArraySource) or split_bytes(source) > budget_mb * 2**20:
        return source
    everything = read_all(source)
    return ArraySource(everything["image"], everything["label"])


def split_bytes(source) -> int:
    """Bytes that a source's images take in memory."""
    return len(source) * int(np.prod(source.image_shape)) * np.dtype(source.image_dtype).itemsize
