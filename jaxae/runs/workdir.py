"""The workdir: made and probed before any compute, and held by one run at a time."""

from __future__ import annotations

import datetime
import errno
import fcntl
import json
import os
import socket
import sys
import tempfile

from jaxae.errors import ConfigError, WorkdirError, another_workdir, option

# What a run writes in its workdir, and whether each is a folder.
OUTPUTS = {"checkpoints": True, "images": True, "tensorboard": True, "metrics.jsonl": False, "run.json": False}
LOCK_FILE = ".jaxae.lock"


def workdir_path(workdir: str) -> str:
    """The absolute path of `workdir` ('~' expanded); ConfigError if it is empty."""
    if not workdir:
        raise ConfigError(f"{option('--workdir', 'workdir')} is empty: name a directory for checkpoints, metrics "
                          "and images")
    return os.path.abspath(os.path.expanduser(workdir))


def prepare_workdir(workdir: str) -> str:
    """Creates `workdir` if needed, proves it writable and its outputs' paths usable; returns its absolute path."""
    path = workdir_path(workdir)
    if os.path.exists(path) and not os.path.isdir(path):
        raise ConfigError(f"workdir {path!r} exists and is not a directory")
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as error:
        raise ConfigError(f"workdir {path!r} is not writable: {error.strerror or error}") from None
    for name, is_folder in OUTPUTS.items():
        output = os.path.join(path, name)
        if os.path.exists(output) and os.path.isdir(output) != is_folder:
            what = "a folder" if is_folder else "a file"
            raise ConfigError(f"{output!r} is in the way: jaxae writes {what} there; move it away")
    return path


class WorkdirLock:
    """An exclusive lock on a workdir for the life of a run (`flock`: the kernel drops it when the
    process dies, so a killed run never leaves it stuck). The file names the holder.

    Raises:
      WorkdirError (on entering): another live run holds the workdir, named in the message.
    """

    def __init__(self, workdir: str):
        self.path = os.path.join(workdir, LOCK_FILE)
        self._file = None

    def __enter__(self):
        workdir = os.path.dirname(self.path)
        try:
            handle = open(self.path, "a+")
        except OSError as error:
            raise WorkdirError(f"could not open the lock file {self.path!r}: {error.strerror or error}") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            held = error.errno in (errno.EWOULDBLOCK, errno.EAGAIN)
            handle.seek(0)
            holder = handle.read().strip() or "an unknown process"
            handle.close()
            if not held:  # ENOLCK on some network file systems, for one.
                raise WorkdirError(f"could not lock workdir {workdir!r}: {error.strerror or error}") from None
            raise WorkdirError(f"workdir {workdir!r} is in use by another run ({holder}); "
                               f"wait for it to end, or use {another_workdir()}") from None
        handle.seek(0)
        handle.truncate()
        started = datetime.datetime.now().isoformat(timespec="seconds")
        handle.write(f"pid {os.getpid()} on {socket.gethostname()} since {started}: {json.dumps(sys.argv)}")
        handle.flush()
        self._file = handle
        return self

    def __exit__(self, *exc):
        handle, self._file = self._file, None
        if handle is not None:
            handle.truncate(0)
            handle.close()  # Closing releases the lock.
