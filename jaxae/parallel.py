"""Devices, meshes and shardings: the one module that knows where arrays live.

The train state is replicated over a 1-D mesh with a ``data`` axis; batches are split along it.
Under `jit`, XLA inserts the gradient all-reduce itself, so trainers know nothing of devices.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec as P

from jaxae.errors import ConfigError

DATA_AXIS = "data"


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


def put_replicated(tree, mesh: Mesh):
    """Copies a host pytree to every device of the mesh."""
    return jax.device_put(tree, replicated(mesh))
