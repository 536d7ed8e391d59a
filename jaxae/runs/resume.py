"""Where a run starts: the newest intact checkpoint of this very run, or a fresh state; and which
workdir to train in when the one asked for holds another run's checkpoints."""

from __future__ import annotations

import functools
import os
import sys

import jax
import jax.numpy as jnp

from jaxae.devices import parallel
from jaxae.errors import CheckpointError, another_workdir
from jaxae.runs import checkpoint
from jaxae.runs.checkpoint import Checkpointer, Unreadable


def warn(message: str) -> None:
    """One line on stderr, from process 0."""
    if jax.process_index() == 0:
        print(f"jaxae: warning: {message}", file=sys.stderr, flush=True)


def _strong(leaf):
    """A leaf as an array of a fixed dtype: restored arrays are never weakly typed, so neither are fresh ones."""
    leaf = jnp.asarray(leaf)
    return jax.lax.convert_element_type(leaf, leaf.dtype) if leaf.weak_type else leaf


def initial_state(trainer, key):
    """trainer.init(key), every leaf an array that computes alike before and after a resume."""
    return jax.tree.map(_strong, trainer.init(key))


def abstract_state(trainer, mesh, seed: int):
    """The state's shapes, dtypes and shardings (`Trainer.state_sharding`), without computing it."""
    shapes = jax.eval_shape(functools.partial(initial_state, trainer), jax.random.PRNGKey(seed))
    return jax.tree.map(lambda leaf, sharding: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=sharding),
                        shapes, trainer.state_sharding(shapes, mesh))


def newest_intact(checkpointer: Checkpointer, target, steps=None):
    """(step, meta, state, unreadable) for the newest of `steps` (default all) that reads back whole.

    target(step, meta) -> the abstract state to restore `step` into; it raises to refuse a
    checkpoint whose metadata reads back but belongs to another run. `unreadable` lists (step,
    why) for the newer steps that could not be read; step, meta and state are None when no step
    can be read.
    """
    unreadable = []
    for step in reversed(checkpointer.all_steps() if steps is None else steps):
        try:
            meta = checkpointer.read_meta(step)
            return step, meta, checkpointer.restore(step, target(step, meta)), unreadable
        except Unreadable as why:
            unreadable.append((step, str(why)))
    return None, None, None, unreadable


def _check_this_run(checkpointer: Checkpointer, step: int, meta: dict, identity: dict, state_layout: dict,
                    config_json: dict) -> None:
    """Raises CheckpointError unless `step` is a checkpoint of this run: same identity, same arrays."""
    checkpointer.check_identity(step, meta, identity)
    checkpointer.check_layout(step, meta, state_layout, config_json)


def restore_newest_intact(checkpointer: Checkpointer, abstract, identity: dict, config_json: dict):
    """The newest checkpoint of this run that reads back whole, restored into `abstract`; None if there is none.

    Unreadable steps newer than it (truncated, half-deleted, foreign) are moved aside with a
    one-line warning each; a checkpoint of another run (identity or array layout) is refused.

    Raises:
      CheckpointError: a checkpoint of another run, or checkpoints none of which can be read.
    """
    state_layout = checkpoint.layout(abstract)

    def this_run(step, meta):
        _check_this_run(checkpointer, step, meta, identity, state_layout, config_json)
        return abstract

    step, _, state, unreadable = newest_intact(checkpointer, this_run)
    if step is None:
        if unreadable:
            raise CheckpointError(f"no checkpoint in {checkpointer.directory} can be read: "
                                  + "; ".join(f"step {bad}: {why}" for bad, why in unreadable)
                                  + ". Nothing was changed: move those folders away to start afresh, or use "
                                  + another_workdir())
        return None
    for bad, why in unreadable:
        where = checkpointer.move_aside(bad, mover=jax.process_index() == 0)
        warn(f"checkpoint step {bad} in {checkpointer.directory} is unreadable: {why}; moved it to {where} "
             f"and resumed from step {step}")
    if unreadable:
        parallel.barrier("jaxae: unreadable checkpoints moved")
        checkpointer.reload()
    return state


def restore_or_init(checkpointer: Checkpointer, trainer, abstract, *, seed: int, identity: dict, config_json: dict):
    """(state, restored): the newest intact checkpoint in `checkpointer` of the run that `identity` and
    `config_json` describe, restored into `abstract`; or else `trainer`'s fresh state of `seed`, built
    under `jit` with the abstract state's shardings."""
    state = restore_newest_intact(checkpointer, abstract, identity, config_json)
    if state is not None:
        return state, True
    fresh = jax.jit(functools.partial(initial_state, trainer), out_shardings=parallel.shardings_of(abstract))
    return fresh(jax.random.PRNGKey(seed)), False


def _holds_this_run(directory: str, identity: dict, state_layout: dict, config_json: dict) -> bool:
    checkpointer = Checkpointer(directory, read_only=True)
    try:
        for step in reversed(checkpointer.all_steps()):
            try:
                meta = checkpointer.read_meta(step)
            except Unreadable:
                continue
            try:
                _check_this_run(checkpointer, step, meta, identity, state_layout, config_json)
                return True
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
