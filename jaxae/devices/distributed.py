"""Multi-process start-up: `jax.distributed.initialize` with every wait bounded and every failure
explained. Must run before anything else touches JAX devices.

Modes: no coordinator and `auto=False` -> a single process; an explicit coordinator address,
process count and id; or `auto=True`, where JAX reads SLURM or Cloud TPU metadata itself.
"""

from __future__ import annotations

import os
import socket
import threading
import time

from jaxae.errors import ConfigError


class DistributedError(ConfigError):
    """The processes of a multi-process run could not find each other."""


def _split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise DistributedError(f"--coordinator_address={address!r} must be HOST:PORT")
    return host.strip("[]"), int(port)


def wait_for_coordinator(address: str, timeout_s: float) -> None:
    """Polls HOST:PORT until it accepts a connection; raises DistributedError after `timeout_s`."""
    host, port = _split_address(address)
    deadline = time.monotonic() + timeout_s
    last_error = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=min(2.0, timeout_s)):
                return
        except OSError as error:
            last_error = error
            time.sleep(0.2)
    raise DistributedError(f"the coordinator {address} did not answer within {timeout_s:g} s "
                           f"(--distributed_timeout); last error: {last_error}. Is process 0 running there?")


def _watchdog(timeout_s: float, message: str) -> threading.Timer:
    """JAX aborts the process (SIGABRT) when peers never arrive; say why first and exit cleanly."""

    def fire():
        print(f"jaxae: error: {message}", flush=True)
        os._exit(1)

    timer = threading.Timer(timeout_s, fire)
    timer.daemon = True
    timer.start()
    return timer


def initialize(*, coordinator_address: str | None, num_processes: int | None, process_id: int | None,
               timeout_s: int = 300, auto: bool = False, bind_address: str | None = None) -> int:
    """Joins the processes of a run; returns the process count (1 when running alone)."""
    import jax

    if not coordinator_address and not auto:
        if num_processes not in (None, 1):
            raise DistributedError(f"--num_processes={num_processes} needs --coordinator_address (or --distributed=auto)")
        return 1
    if timeout_s <= 0:
        raise DistributedError(f"--distributed_timeout={timeout_s} must be positive")
    if coordinator_address:
        if num_processes is None or num_processes < 1:
            raise DistributedError(f"--num_processes={num_processes} must be a positive count with --coordinator_address")
        if process_id is None or not 0 <= process_id < num_processes:
            raise DistributedError(f"--process_id={process_id} must lie in [0, {num_processes})")
        host, port = _split_address(coordinator_address)
        if process_id != 0:
            wait_for_coordinator(coordinator_address, timeout_s)
        if bind_address is None and host in ("127.0.0.1", "localhost"):
            bind_address = f"{host}:{port}"  # Loopback runs stay on loopback.
    who = coordinator_address or "the cluster's coordinator"
    who_am_i = f"process {process_id}" if process_id is not None else "this process"
    timer = _watchdog(timeout_s, f"{who_am_i} waited {timeout_s} s (--distributed_timeout) for the "
                                 f"{num_processes or 'expected'} processes to meet at {who}; one never arrived")
    try:
        # JAX's own limit is set past ours so that the watchdog's message, not an abort, ends the wait.
        jax.distributed.initialize(coordinator_address=coordinator_address, num_processes=num_processes,
                                   process_id=process_id, initialization_timeout=int(timeout_s) + 30,
                                   coordinator_bind_address=bind_address)
    except (ValueError, RuntimeError) as error:
        found = "; ".join(str(error).strip().splitlines()[:1])
        if auto and not coordinator_address:
            raise DistributedError(f"--distributed=auto found no cluster to join ({found}): JAX detects SLURM, Open "
                                   f"MPI and Cloud TPU; elsewhere give --coordinator_address, --num_processes and "
                                   f"--process_id") from None
        raise DistributedError(f"joining the run's processes at {who} failed: {found}") from None
    finally:
        timer.cancel()
    return jax.process_count()
