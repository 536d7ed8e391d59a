"""Devices, meshes and shardings: the one module that knows where arrays live.

The train state is replicated over a 1-D mesh with a ``data`` axis; batches are split along it.
Under `jit`, XLA inserts the gradient all-reduce itself, so trainers know nothing of devices.
"""

from __future__ import annotations

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec as P

from jaxae.errors import ConfigError

DATA_AXIS = "data"
MODES = ("jit", "pmap")


def make_mesh(num_devices: int = 0) -> Mesh:
    """A 1-D ``data`` mesh over the first `num_devices` devices (0: all, across all processes).

    Axis type Auto lets plain `jit` propagate shardings from the inputs (Explicit, the
    `jax.make_mesh` default, would demand shardings on every op).
    """
    devices = jax.devices()
    if num_devices < 0 or num_devices > len(devices):
        raise ConfigError(f"parallel.num_devices={num_devices} but {len(devices)} devices are visible "
                          f"({devices[0].platform}); use 0 for all")
    chosen = devices[: num_devices or len(devices)]
    return Mesh(np.asarray(chosen), (DATA_AXIS,), axis_types=(AxisType.Auto,))


def check_platform(config, platform: str, process_count: int, device_count: int) -> None:
    """Raises ConfigError for settings that this platform or process layout cannot run."""
    if config.compute_dtype == "float16" and platform == "tpu":
        raise ConfigError("compute_dtype='float16' is not supported on TPU (no float16 units); use 'bfloat16'")
    if config.parallel.mode == "pmap" and process_count > 1:
        raise ConfigError(f"parallel.mode='pmap' runs within one process; for {process_count} processes use "
                          f"parallel.mode='jit' (the same training, as sharded jit over a global mesh)")
    if process_count > 1 and config.parallel.num_devices not in (0, device_count):
        raise ConfigError(f"parallel.num_devices={config.parallel.num_devices} with {process_count} processes: a "
                          f"multi-process run uses every device (0 or {device_count}), so each process holds its share")


def tree_bytes(tree, *, per_device: bool = False) -> int:
    """Bytes of every array (or ShapeDtypeStruct) of a pytree; with `per_device`, of one device's
    shard of each leaf placed by a sharding (a leaf split over the devices counts its part)."""
    def shape(leaf):
        sharding = getattr(leaf, "sharding", None)
        return sharding.shard_shape(leaf.shape) if per_device and sharding is not None else leaf.shape

    return sum(int(np.prod(shape(leaf), dtype=np.int64)) * np.dtype(leaf.dtype).itemsize for leaf in jax.tree.leaves(tree))


def memory_per_device(mesh: Mesh) -> tuple[int | None, str]:
    """(bytes one device of the mesh may hold, where that figure comes from); None when unknown.

    Accelerators report their own limit; CPU devices share the host's memory, split among the
    simulated devices of this process.
    """
    device = mesh.devices.flat[0]
    try:
        limit = (device.memory_stats() or {}).get("bytes_limit")
    except Exception:  # Not every backend implements memory_stats.
        limit = None
    if limit:
        return int(limit), f"{device.platform} memory"
    if device.platform == "cpu":
        try:
            host_bytes = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError):
            return None, "unknown"
        local = len(jax.local_devices())
        return host_bytes // local, f"host memory / {local} CPU device(s)"
    return None, "unknown"


def check_state_fits(abstract_state, mesh: Mesh) -> None:
    """Raises ConfigError, with the estimate, when one device's part of the train state cannot fit it.

    The estimate: the device's share of the state (parameters, optimizer state, the rest: whole
    where replicated, its rows where split) plus a gradient and an update the size of its
    parameters; activations come on top, so passing is necessary, not sufficient.
    """
    limit, where = memory_per_device(mesh)
    params = tree_bytes(getattr(abstract_state, "params", {}), per_device=True)
    state = tree_bytes(abstract_state, per_device=True)
    needed = state + 2 * params
    if limit is not None and needed > limit:
        gib = lambda n: f"{n / 2**30:.1f} GiB"
        raise ConfigError(f"the train state needs about {gib(needed)} per device (parameters {gib(params)}, the "
                          f"rest of the state {gib(state - params)}, gradients and updates {gib(2 * params)}) but a "
                          f"device has {gib(limit)} ({where}); make the model smaller")


def replicated(mesh: Mesh) -> NamedSharding:
    """Every device holds the whole array (parameters, optimizer state, device-resident data)."""
    return NamedSharding(mesh, P())


def batch_sharding(mesh: Mesh, leading_axes: int = 1) -> NamedSharding:
    """The batch axis (the first after `leading_axes - 1` unsplit axes) is split over ``data``."""
    return NamedSharding(mesh, P(*([None] * (leading_axes - 1)), DATA_AXIS))


def check_batch_divides(batch_size: int, mesh: Mesh, field: str = "batch_size") -> None:
    """Raises ConfigError unless `batch_size` splits evenly over the mesh's devices and processes."""
    devices = mesh.devices.size
    processes = jax.process_count()
    if batch_size <= 0 or batch_size % devices or batch_size % processes:
        raise ConfigError(f"{field}={batch_size} must be a positive multiple of the {devices} devices "
                          f"({processes} processes) it is split across")


def host_to_global(host_batch: dict, mesh: Mesh, leading_axes: int = 1) -> dict:
    """This process's slice of a global batch -> global `jax.Array`s sharded over ``data``."""
    sharding = batch_sharding(mesh, leading_axes)
    return {name: jax.make_array_from_process_local_data(sharding, value) for name, value in host_batch.items()}


def batch_mean(x, axis_name: str | None = None):
    """The mean of x [batch, ...] over the whole global batch -> [...], the same on every device.

    Under sharded `jit` (axis_name None) the batch axis is global and XLA reduces across devices
    itself; under `pmap` each device holds a shard, so the shard means are averaged over
    `axis_name` (shards are equal in size). Batch statistics in a loss (a sparsity rate, cluster
    counts, BatchNorm moments) go through here so that 1 and 8 devices train alike.
    """
    mean = jnp.mean(x, axis=0)
    return mean if axis_name is None else jax.lax.pmean(mean, axis_name)


def barrier(name: str) -> None:
    """Blocks until every process reaches the barrier called `name` (no-op in a single process)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def max_over_processes(value: int) -> int:
    """The largest of every process's `value` (a host sync across processes; free in a single one)."""
    if jax.process_count() == 1:
        return int(value)
    from jax.experimental import multihost_utils

    return int(np.max(multihost_utils.process_allgather(np.asarray(value, np.int32))))


def on_lead(action, what: str):
    """Runs `action()` on process 0 only (files only it writes); if it raised a JaxaeError there,
    every process raises, so none waits for process 0 at the next barrier or collective.

    Returns `action()`'s result on process 0, None elsewhere.
    """
    from jaxae.errors import JaxaeError

    result, failure = None, None
    if jax.process_index() == 0:
        try:
            result = action()
        except JaxaeError as error:
            failure = error
    if max_over_processes(int(failure is not None)):
        raise failure or JaxaeError(f"process 0 failed while {what}; its own message says why")
    return result


def shardings_of(abstract_tree):
    """The `sharding` of each leaf of a tree of placed ShapeDtypeStructs or arrays."""
    return jax.tree.map(lambda leaf: leaf.sharding, abstract_tree)


def place(tree, shardings):
    """Each leaf placed by its sharding in `shardings` (a tree like `tree`): leaves already so placed
    stay, others (NumPy arrays a hook computed on the host, arrays placed otherwise) are copied.
    The values must agree across processes."""

    def place_leaf(leaf, sharding):
        if isinstance(leaf, jax.Array) and leaf.sharding.is_equivalent_to(sharding, leaf.ndim):
            return leaf
        return global_from_full(np.asarray(fetch_to_host(leaf)), sharding)

    return jax.tree.map(place_leaf, tree, shardings)


def fetch_to_host(tree):
    """Every leaf whole as NumPy, in every process: a leaf split over several processes' devices
    is gathered first (all processes must call this together)."""
    from jax.experimental import multihost_utils

    def fetch(leaf):
        if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable and not leaf.is_fully_replicated:
            return np.asarray(multihost_utils.process_allgather(leaf, tiled=True))
        return np.asarray(jax.device_get(leaf))

    return jax.tree.map(fetch, tree)


def global_from_full(array: np.ndarray, sharding: NamedSharding) -> jax.Array:
    """A global array from a host array that every process holds whole (each places its own shards)."""
    return jax.make_array_from_callback(array.shape, sharding, lambda index: array[index])


def zeros_placed(shapes, sharding: NamedSharding):
    """Zeros for a pytree of ShapeDtypeStructs (e.g. from `jax.eval_shape`), placed by `sharding`."""
    return jax.tree.map(lambda s: global_from_full(np.zeros(s.shape, s.dtype), sharding), shapes)


def put_replicated(tree, mesh: Mesh):
    """Copies a host pytree, the same in every process, to every device of the mesh."""
    return jax.tree.map(lambda x: global_from_full(np.asarray(x), replicated(mesh)), tree)


# ------------------------------------------------------------------------------------ pmap path
# `pmap` takes and returns arrays with a leading device axis. The loop keeps the state in the
# `jit` layout (replicated), and the pmap runners convert at their boundaries: both conversions
# are local to each device (every device already holds a full replica), so nothing crosses devices.

def stack_over_devices(tree, mesh: Mesh):
    """Replicated arrays [...] -> [num_devices, ...] with row i on device i (pmap's input layout)."""
    return _stacker(mesh)(tree)


def unstack_from_devices(tree, mesh: Mesh):
    """[num_devices, ...] rows that are equal (pmean'd) -> one replicated array, each device keeping its row."""
    return _unstacker(mesh)(tree)


def split_over_devices(tree, mesh: Mesh, batch_axis: int = 0):
    """Arrays whose axis `batch_axis` is sharded over ``data`` -> [num_devices, ..., batch / num_devices, ...]."""
    return _splitter(mesh, batch_axis)(tree)


# The converters are built once per mesh: a new jitted lambda per call would retrace every dispatch.
@functools.lru_cache(maxsize=None)
def _stacker(mesh: Mesh):
    count = mesh.devices.size
    return jax.jit(lambda t: jax.tree.map(lambda x: jnp.broadcast_to(x, (count, *x.shape)), t),
                   out_shardings=batch_sharding(mesh))


@functools.lru_cache(maxsize=None)
def _unstacker(mesh: Mesh):
    take_own_row = jax.shard_map(lambda t: jax.tree.map(lambda x: x[0], t), mesh=mesh,
                                 in_specs=P(DATA_AXIS), out_specs=P(), check_vma=False)
    return jax.jit(take_own_row)


@functools.lru_cache(maxsize=None)
def _splitter(mesh: Mesh, batch_axis: int):
    count = mesh.devices.size

    def split(x):
        shape = x.shape[:batch_axis] + (count, x.shape[batch_axis] // count) + x.shape[batch_axis + 1:]
        return jnp.moveaxis(x.reshape(shape), batch_axis, 0)

    return jax.jit(lambda t: jax.tree.map(split, t), out_shardings=batch_sharding(mesh))
