"""Checkpoints: the only module that imports Orbax.

One `CheckpointManager` under ``<workdir>/checkpoints`` saves the train state together with JSON
metadata: the run record (`run_record`), its identity, and the layout (shape and dtype) of every
array of the state. Saves are asynchronous; Orbax writes into a temporary folder and renames it
when complete, so a save killed half-way is never picked up, and leftover temporary folders are
removed when the manager opens.

Restoring checks, in order and before reading any array: that the metadata is readable, that
the identity matches this run's, and that the layout matches this run's state. A checkpoint
that cannot be read is moved aside (never deleted) and the next older one is used.
"""

from __future__ import annotations

import os
import time

import jax
import orbax.checkpoint as ocp

from jaxae.errors import CheckpointError, CheckpointWriteError, WorkdirError, another_workdir, option
from jaxae.runs import run_record


def layout(tree) -> dict[str, str]:
    """{'.params['Dense_0']['kernel']': 'float32[784,512]', ...} for every array of a pytree."""
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {jax.tree_util.keystr(path): f"{leaf.dtype}[{','.join(map(str, leaf.shape))}]" for path, leaf in leaves}


def _layout_differences(saved: dict, current: dict, limit: int = 3) -> list[str]:
    lines = [f"{path}: checkpoint {saved.get(path, '<absent>')}, this run {current.get(path, '<absent>')}"
             for path in sorted(set(saved) | set(current)) if saved.get(path) != current.get(path)]
    return lines[:limit] + ([f"{len(lines) - limit} more"] if len(lines) > limit else [])


class Unreadable(Exception):
    """A checkpoint step whose metadata or arrays cannot be read (truncated, half-deleted, ...)."""


class Checkpointer:
    """Saves and restores train states for one workdir.

    Args:
      directory: where checkpoints live (``<workdir>/checkpoints``); made absolute.
      keep: how many recent checkpoints to keep.
      read_only: only inspect: create no folder, clean no temporary one, save nothing.
    """

    def __init__(self, directory: str, *, keep: int = 3, read_only: bool = False):
        self.directory = os.path.abspath(directory)
        if read_only:  # Not Orbax's read_only option, which logs a warning on every open; saving is never asked.
            options = ocp.CheckpointManagerOptions(create=False, max_to_keep=None, cleanup_tmp_directories=False)
        else:
            options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True, cleanup_tmp_directories=True,
                                                   enable_async_checkpointing=True)
        self._manager = ocp.CheckpointManager(self.directory, options=options, item_names=("state", "meta"))
        self._pending = None  # The step of the latest save started, for error messages.

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        return sorted(self._manager.all_steps())

    def read_meta(self, step: int) -> dict:
        """The JSON metadata saved with `step`; raises Unreadable if it cannot be read."""
        try:
            meta = self._manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
        except Exception as error:  # Orbax and tensorstore raise many types for damaged files.
            raise Unreadable(f"its metadata cannot be read ({type(error).__name__})") from error
        if not isinstance(meta, dict) or not {"identity", "record", "layout"} <= set(meta):
            raise Unreadable("its metadata is not a jaxae run record (written by another program or an older jaxae)")
        return meta

    def check_identity(self, step: int, meta: dict, identity: dict) -> None:
        """Raises CheckpointError, listing the differing fields, if `step` belongs to another run."""
        advice = (f"Nothing was changed: use {another_workdir()}, or "
                  f"{option('--on_checkpoint_mismatch=new_workdir', 'on_mismatch=' + repr('new_workdir'))}")
        saved_family, family = meta["identity"].get("trainer"), identity.get("trainer")
        if saved_family != family:  # The one difference that matters: the other fields are another family's.
            raise CheckpointError(f"{self.directory} holds step {step} of a trainer={saved_family!r} run; this run is "
                                  f"trainer={family!r}. {advice}")
        diffs = run_record.differences(meta["identity"], identity)
        if diffs:
            raise CheckpointError(
                f"{self.directory} holds step {step} of a different model, data or config, so it cannot be resumed: "
                + "; ".join(diffs) + f". {advice} (see docs/runs.md: what a resume may change)")

    def check_layout(self, step: int, meta: dict, state_layout: dict, config_json: dict) -> None:
        """Raises CheckpointError if the arrays of `step` differ in shape or dtype from `state_layout`,
        naming them and the config fields that differ from `config_json`."""
        arrays = _layout_differences(meta["layout"], state_layout)
        if arrays:
            fields = run_record.differences(run_record.flatten(meta["record"]["config"]), run_record.flatten(config_json))
            raise CheckpointError(
                f"{self.directory} step {step} holds arrays of other shapes than this run's state ("
                + "; ".join(arrays) + "); config fields that differ: " + ("; ".join(fields) or "none")
                + f". Nothing was changed: use {another_workdir()}")

    def restore(self, step: int, abstract_state):
        """Restores `step` into the layout (shapes, dtypes, shardings) of `abstract_state`.

        A failed read is tried once more before the step counts as unreadable, so that a passing
        hiccup of a network file system does not look like damage.
        """
        for attempt in (1, 2):
            try:
                restored = self._manager.restore(
                    step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract_state)))
                return restored["state"]
            except Exception as error:
                if attempt == 2:
                    raise Unreadable(f"its arrays cannot be read ({type(error).__name__})") from error
                time.sleep(1.0)

    def move_aside(self, step: int, *, mover: bool = True) -> str:
        """Moves the folder of `step` to ``<checkpoints>-unreadable/`` (kept, not deleted); returns where.

        mover: whether this process moves it (one process of a run does; the others only forget it
        with `reload` once it is gone).
        """
        target = os.path.join(self.directory + "-unreadable", f"{step}-{time.strftime('%Y%m%d-%H%M%S')}")
        if mover:
            try:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                os.replace(os.path.join(self.directory, str(step)), target)
            except OSError as error:
                raise WorkdirError(f"checkpoint step {step} in {self.directory} is unreadable and could not be moved "
                                   f"aside to {target}: {error.strerror or error}; move it away yourself") from None
        return target

    def reload(self) -> None:
        """Reads the list of steps from disk again (after steps were moved aside)."""
        self._manager.reload()

    def _failed(self, step, error) -> CheckpointWriteError:
        return CheckpointWriteError(f"could not write the checkpoint of step {step} to {self.directory}: {error}. "
                            f"Checkpoints in {self.directory} are intact: steps {self.all_steps()}")

    def save(self, step: int, state, meta: dict, *, force: bool = False) -> bool:
        """Starts an asynchronous save of `state` and JSON `meta` at `step`; returns whether one was started.

        Raises:
          WorkdirError: this save, or the previous asynchronous one, could not be written.
        """
        previous, self._pending = self._pending, int(step)
        try:
            # Orbax first waits for the previous asynchronous save: a failure here may be that one's.
            return self._manager.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                                                    meta=ocp.args.JsonSave(meta)), force=force)
        except Exception as error:  # Orbax wraps OS errors of its writer threads in several types.
            which = f"{previous} or {step}" if previous not in (None, step) else step
            raise self._failed(which, error) from error

    def wait(self) -> None:
        """Blocks until every started save is on disk; raises WorkdirError if one failed."""
        try:
            self._manager.wait_until_finished()
        except Exception as error:
            raise self._failed(self._pending, error) from error

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self._manager.close()
