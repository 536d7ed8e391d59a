"""Checkpoints: the only module that imports Orbax.

One `CheckpointManager` under ``<workdir>/checkpoints`` saves the train state together with JSON
metadata (the config fields that define the model and its trajectory). Saves are asynchronous;
Orbax writes into a temporary folder and renames it when complete, so a save killed half-way is
never picked up, and leftover temporary folders are removed when the manager opens.
"""

from __future__ import annotations

import json
import os
from typing import Any

import jax
import orbax.checkpoint as ocp

from jaxae.errors import CheckpointError, WorkdirError

# Config sections that define the state's layout or the run's trajectory. A checkpoint whose
# values differ in any of them belongs to another model or experiment.
IDENTITY_FIELDS = ("model", "loss", "noise", "optimizer", "data.name", "data.train_split", "data.binarize",
                   "data.binarize_threshold", "seed", "batch_size", "compute_dtype")


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, dict):
        out = {}
        for key, value in tree.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: list(tree) if isinstance(tree, tuple) else tree}


def identity(config) -> dict[str, Any]:
    """The flat {'model.latent_dim': 20, ...} record of IDENTITY_FIELDS, JSON-ready."""
    full = _flatten(json.loads(config.to_json()))
    return {key: value for key, value in sorted(full.items())
            if any(key == field or key.startswith(field + ".") for field in IDENTITY_FIELDS)}


def differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """'field: checkpoint X, this run Y' for each field whose value differs."""
    lines = []
    for key in sorted(set(saved) | set(current)):
        if saved.get(key, "<absent>") != current.get(key, "<absent>"):
            lines.append(f"{key}: checkpoint {saved.get(key, '<absent>')!r}, this run {current.get(key, '<absent>')!r}")
    return lines


class Checkpointer:
    """Saves and restores TrainStates for one workdir.

    Args:
      directory: where checkpoints live (``<workdir>/checkpoints``); made absolute.
      config: the run's config, recorded with every save and checked on restore.
      keep: how many recent checkpoints to keep.
    """

    def __init__(self, directory: str, config, keep: int = 3, *, read_only: bool = False):
        self.directory = os.path.abspath(directory)
        self.identity = identity(config)
        # A read-only manager only inspects: it neither creates folders nor cleans temporary ones.
        options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=not read_only,
                                               cleanup_tmp_directories=not read_only,
                                               enable_async_checkpointing=True, read_only=read_only)
        self._manager = ocp.CheckpointManager(self.directory, options=options, item_names=("state", "meta"))
        self._pending = None  # The step of the latest save started, for error messages.

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def differences(self, step: int) -> list[str]:
        """The config fields whose values differ between checkpoint `step` and this run."""
        restored = self._manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))
        return differences(restored["meta"]["identity"], self.identity)

    def check_compatible(self, step: int) -> None:
        """Raises CheckpointError naming every differing field if `step` was saved by another config."""
        diffs = self.differences(step)
        if diffs:
            raise CheckpointError(
                f"{self.directory} holds step {step} of a different model or config, so it cannot be resumed: "
                + "; ".join(diffs) + ". Use another --workdir to start fresh (nothing was overwritten).")

    def restore(self, step: int, abstract_state):
        """Restores `step` into the layout (shapes, dtypes, shardings) of `abstract_state`."""
        self.check_compatible(step)
        restored = self._manager.restore(
            step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract_state)))
        return restored["state"]

    def all_steps(self) -> list[int]:
        return sorted(self._manager.all_steps())

    def _failed(self, step, error) -> WorkdirError:
        return WorkdirError(f"could not write the checkpoint of step {step} to {self.directory}: {error}. "
                            f"Checkpoints in {self.directory} are intact: steps {self.all_steps()}")

    def save(self, step: int, state, *, force: bool = False) -> bool:
        """Starts an asynchronous save of `state` at `step`; returns whether one was started.

        Raises:
          WorkdirError: this save, or the previous asynchronous one, could not be written.
        """
        meta = {"identity": self.identity, "step": int(step), "jax_version": jax.__version__}
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


def workdir_for(workdir: str, config) -> str:
    """`workdir` if it holds no checkpoint or one of this config; else the first free or matching
    sibling `<workdir>-2`, `<workdir>-3`, ... The mismatched workdir is only read, never written."""
    candidate, number = workdir, 1
    while True:
        directory = os.path.join(candidate, "checkpoints")
        if not os.path.isdir(directory):
            return candidate
        checkpointer = Checkpointer(directory, config, read_only=True)
        try:
            latest = checkpointer.latest_step()
            if latest is None or not checkpointer.differences(latest):
                return candidate
        finally:
            checkpointer.close()
        number += 1
        candidate = f"{workdir.rstrip(os.sep)}-{number}"
