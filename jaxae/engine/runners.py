"""Two ways to run K training steps, with the same batches and the same results.

* ``DeviceResidentRunner``: the fields a trainer needs of the whole training split live on the
  devices; K steps run in one jitted ``lax.scan`` over index batches, so the host dispatches once
  per K steps.
* ``StreamingRunner``: host batches come from the grain pipeline (read ahead in threads) and
  each step is one jitted call; for data larger than device memory.

Both take the step function per call (each phase has its own; each is compiled once), hand it
{field: [batch, ...], 'index': [batch]} batches, and return the metric *sums* over the K steps as
device arrays: nothing waits for the device until the loop asks for the numbers.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxae.data import host, pipeline
from jaxae.data.spec import INDEX
from jaxae.devices import parallel
from jaxae.metrics.means import add_metrics


def gather_step(train_step, state, data, batch_indices):
    """One step on the batch gathered from device-resident `data` at `batch_indices` [batch]."""
    batch = {name: jnp.take(array, batch_indices, axis=0) for name, array in data.items()}
    return train_step(state, {**batch, INDEX: batch_indices})


def scan_steps(train_step, state, data, indices):
    """Runs len(indices) steps, gathering each batch on the device.

    Args:
      train_step: (state, batch) -> (state, metrics).
      data: {field: [n, ...]} the whole split, on the devices.
      indices: [K, batch] int32 example indices.
    Returns:
      (state after K steps, {name: sum of the K per-step values}).
    """
    state, metrics = jax.lax.scan(lambda carry, row: gather_step(train_step, carry, data, row), state, indices)
    return state, jax.tree.map(lambda m: jnp.sum(m, axis=0), metrics)


def _compiler(mode: str):
    """jit with the state donated, or pmap over the data axis with the state donated."""
    if mode == "pmap":
        return lambda fn: jax.pmap(fn, axis_name=parallel.DATA_AXIS, donate_argnums=0)
    return lambda fn: jax.jit(fn, donate_argnums=0)


class DeviceResidentRunner:
    """K steps per dispatch over data held on the devices (replicated over the mesh).

    Args:
      source: the training split; `fields` of it are read once, validated, and copied to the devices.
      mode: 'jit' (sharded jit over the mesh) or 'pmap' (the same step under `jax.pmap`, with the
        trainer averaging gradients over the device axis).
    """

    def __init__(self, source, fields, order: pipeline.BatchOrder, mesh, *, mode: str = "jit"):
        self.order, self.mesh, self.mode = order, mesh, mode
        self.data = parallel.put_replicated(host.read_all(source, fields), mesh)
        if mode == "pmap":
            self.data = parallel.stack_over_devices(self.data, mesh)
        self._programs = {}

    def _compiled(self, train_step):
        if train_step not in self._programs:
            compile_ = _compiler(self.mode)
            self._programs[train_step] = (compile_(functools.partial(gather_step, train_step)),
                                          compile_(functools.partial(scan_steps, train_step)))
        return self._programs[train_step]

    def __call__(self, train_step, state, step: int, count: int):
        run_one, run_many = self._compiled(train_step)
        if count == 1:
            # No loop at all: XLA:CPU runs convolution gradients inside a while loop in layouts
            # about 5x slower (docs/performance.md), so conv configs dispatch one step at a time.
            run, indices, batch_axis = run_one, self.order.batch_indices(step).astype(np.int32), 0
        else:
            run, indices, batch_axis = run_many, self.order.chunk_indices(step, count), 1
        # Every process holds the same global indices and places the part its devices need.
        indices = parallel.global_from_full(indices, parallel.batch_sharding(self.mesh, batch_axis + 1))
        if self.mode == "jit":
            return run(state, self.data, indices)
        indices = parallel.split_over_devices(indices, self.mesh, batch_axis)
        state, metrics = run(parallel.stack_over_devices(state, self.mesh), self.data, indices)
        return parallel.unstack_from_devices((state, metrics), self.mesh)


class StreamingRunner:
    """One jitted (or pmapped) step per host batch read by the grain pipeline.

    Batches follow one another from `start_step` to `stop_step`, whatever step function each call
    runs (phases change the step, not the batch order).
    """

    def __init__(self, source, fields, order: pipeline.BatchOrder, mesh, *, start_step: int, stop_step: int,
                 prefetch: int, mode: str = "jit"):
        self.mesh, self.mode = mesh, mode
        self._batches = pipeline.stream_batches(
            source, order, start_step, stop_step, list(fields), process_index=jax.process_index(),
            process_count=jax.process_count(), prefetch=prefetch)
        self._next_step = start_step
        self._programs = {}  # train_step -> (compiled step-and-add, zero metrics placed like its output)

    def _compiled(self, train_step, state, batch):
        """The step that also adds its metrics into a running total, and that total's zeros (traced once)."""
        if train_step not in self._programs:
            def step_and_add(state, total, batch):  # One dispatch per step: metrics are summed on the device.
                state, metrics = train_step(state, batch)
                return state, add_metrics(total, metrics)

            if self.mode == "pmap":
                step_fn = jax.vmap(train_step, axis_name=parallel.DATA_AXIS)
                placement = parallel.batch_sharding(self.mesh)
            else:
                step_fn, placement = train_step, parallel.replicated(self.mesh)
            _, shapes = jax.eval_shape(step_fn, state, batch)
            self._programs[train_step] = (_compiler(self.mode)(step_and_add), parallel.zeros_placed(shapes, placement))
        return self._programs[train_step]

    def _next_batch(self):
        batch = parallel.host_to_global(next(self._batches), self.mesh)
        return parallel.split_over_devices(batch, self.mesh) if self.mode == "pmap" else batch

    def __call__(self, train_step, state, step: int, count: int):
        if step != self._next_step:
            raise RuntimeError(f"streaming runner is at step {self._next_step}, asked for {step}")
        batch = self._next_batch()
        if self.mode == "pmap":
            state = parallel.stack_over_devices(state, self.mesh)
        run, total = self._compiled(train_step, state, batch)
        for i in range(count):
            state, total = run(state, total, batch if i == 0 else self._next_batch())
        self._next_step += count
        return parallel.unstack_from_devices((state, total), self.mesh) if self.mode == "pmap" else (state, total)
