"""Where a run starts: the newest intact checkpoint of this very run, or a fresh state; and which
workdir to train in when the one asked for holds another run's checkpoints."""

from __future__ import annotations

import os
import sys

import jax

from jaxae import checkpoint, parallel
from jaxae.checkpoint import Checkpointer, Unreadable
from jaxae.errors import CheckpointError


def warn(message: str) -> None:
    """One line on stderr, from process 0."""
    if jax.process_index() == 0:
        print(f"jaxae: warning: {message}", file=sys.stderr, flush=True)


def abstract_state(trainer, mesh, seed: int):
    """The state's shapes, dtypes and (replicated) shardings, without computing it."""
    sharding = parallel.replicated(mesh)
    return jax.tree.map(lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=sharding),
                        jax.eval_shape(trainer.init, jax.random.PRNGKey(seed)))


def restore_newest_intact(checkpointer: Checkpointer, abstract, identity: dict, config_json: dict):
    """The newest checkpoint that reads back whole, restored into `abstract`; None if there is none.

    Unreadable steps newer than it (truncated, half-deleted, foreign) are moved aside with a
    one-line warning each; a checkpoint of another run (identity or array layout) is refused.

    Raises:
      CheckpointError: a checkpoint of another run, or checkpoints none of which can be read.
    """
    state_layout, bad = checkpoint.layout(abstract), []
    for step in reversed(checkpointer.all_steps()):
        try:
            meta = checkpointer.read_meta(step)
            checkpointer.check(step, meta, identity, state_layout, config_json)
            state = checkpointer.restore(step, abstract)
        except Unreadable as why:
            bad.append((step, str(why)))
            continue
        for bad_step, why in bad:
            where = checkpointer.move_aside(bad_step, mover=jax.process_index() == 0)
            warn(f"checkpoint step {bad_step} in {checkpointer.directory} is unreadable: {why}; moved it to {where} "
                 f"and resumed from step {step}")
        if bad:
            parallel.barrier("jaxae: unreadable checkpoints moved")
            checkpointer.reload()
        return state
    if bad:
        raise CheckpointError(f"no checkpoint in {checkpointer.directory} can be read: "
                              + "; ".join(f"step {step}: {why}" for step, why in bad)
                              + ". Nothing was changed: move those folders away to start afresh, or use another --workdir")
    return None


def restore_or_init(trainer, checkpointer: Checkpointer, mesh, seed: int, identity: dict, config_json: dict):
    """(state, restored): the newest intact checkpoint of this run, or a fresh state built under `jit`."""
    abstract = abstract_state(trainer, mesh, seed)
    state = restore_newest_intact(checkpointer, abstract, identity, config_json)
    if state is not None:
        return state, True
    return jax.jit(trainer.init, out_shardings=parallel.replicated(mesh))(jax.random.PRNGKey(seed)), False


def _holds_this_run(directory: str, identity: dict, state_layout: dict, config_json: dict) -> bool:
    checkpointer = Checkpointer(directory, read_only=True)
    try:
        for step in reversed(checkpointer.all_steps()):
            try:
                checkpointer.check(step, checkpointer.read_meta(step), identity, state_layout, config_json)
                return True
            except Unreadable:
                continue
            except CheckpointError:
                return False
        return True  # Nothing readable: nothing to protect from this run.
    finally:
        checkpointer.close()


def workdir_for(workdir: str, identity: dict, abstract, config_json: dict) -> str:
    """`workdir` if it holds no checkpoint or one of this run; else the first free or matching
    sibling `<workdir>-2`, `<workdir>-3`, ... A mismatched workdir is only read, never written."""
    state_layout, candidate, number = checkpoint.layout(abstract), workdir, 1
    while True:
        directory = os.path.join(candidate, "checkpoints")
        if not os.path.isdir(directory) or _holds_this_run(directory, identity, state_layout, config_json):
            return candidate
        number += 1
        candidate = f"{workdir.rstrip(os.sep)}-{number}"
