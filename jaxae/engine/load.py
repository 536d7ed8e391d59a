"""`jaxae.load(workdir)`: a trained model back from a run's newest intact checkpoint, no config
retyping, no internals: the checkpoint's run record holds the config, the data spec and size."""

from __future__ import annotations

import os

from jaxae.data import spec as specs
from jaxae.devices import parallel
from jaxae.engine.early_stopping import BEST_DIR
from jaxae.errors import CheckpointError
from jaxae.runs import resume, run_record
from jaxae.runs.checkpoint import Checkpointer, layout
from jaxae.trainers.base import checked_batch_size
from jaxae.trainers.registry import create_trainer


def load(workdir: str, *, step: int | None = None, best: bool = True, mesh=None, batch_size: int | None = None):
    """The trained model of the run in `workdir`, as its family offers it (`Trainer.inference`).

    For the autoencoder family: `encode`, `decode` and `reconstruct` taking raw images (uint8 or
    [0, 1], the run's own input transform applied) and returning NumPy arrays, plus `config`,
    `params`, `model` and `step`. Every family's model also carries `record`, the run record
    (config, the data's spec, fingerprint and origin, versions; `jaxae.runs.run_record`).

    Args:
      workdir: the folder a run trained in (it holds `checkpoints/`).
      step: a checkpoint's step; default the newest that reads back whole.
      best: without `step`, the best state early stopping kept (`<workdir>/best/`), where there is
        one; False: the newest checkpoint.
      mesh: the devices to run on (default all).
      batch_size: examples per batch of the model's calls that map over data (default the run's
        `eval_batch_size`); it bounds their device memory. Each call also takes its own.

    Raises:
      CheckpointError: `workdir` holds no run, no such step, or no checkpoint that can be read.
    """
    if batch_size is not None:
        batch_size = checked_batch_size(batch_size)
    folder = os.path.abspath(os.path.expanduser(workdir))
    directory = os.path.join(folder, "checkpoints")
    if not os.path.isdir(directory):
        raise CheckpointError(f"{workdir!r} holds no jaxae run: there is no {directory}")
    kept = os.path.join(folder, BEST_DIR)
    if step is None and best and os.path.isdir(kept) and any(name.isdigit() for name in os.listdir(kept)):
        directory = kept
    checkpointer = Checkpointer(directory, read_only=True)
    try:
        steps = checkpointer.all_steps()
        if step is not None and step not in steps:
            raise CheckpointError(f"{directory} has no checkpoint of step {step}; it has {steps}")
        mesh = mesh or parallel.make_mesh(0)

        def target(found, meta):  # The layout the run's own config gives, checked against the saved one.
            trainer = _trainer_of(meta)
            abstract = resume.abstract_state(trainer, mesh, trainer.config.seed)
            checkpointer.check_layout(found, meta, layout(abstract), meta["record"]["config"])
            return abstract

        found, meta, state, unreadable = resume.newest_intact(checkpointer, target, steps if step is None else [step])
        for bad, why in unreadable:
            resume.warn(f"checkpoint step {bad} in {directory} is unreadable: {why}")
        if found is None:
            raise CheckpointError(f"{directory} holds no checkpoint that can be read"
                                  + (f" ({'; '.join(f'step {bad}: {why}' for bad, why in unreadable)})"
                                     if unreadable else " (it is empty)"))
        model = _trainer_of(meta).inference(state, mesh)
        model.record = meta["record"]
        model.batch_size = batch_size or model.batch_size
        return model
    finally:
        checkpointer.close()


def _trainer_of(meta: dict):
    """The trainer a checkpoint's run record describes."""
    record = meta["record"]
    config = run_record.config_from_json(record["config"])
    return create_trainer(config, specs.spec_from_json(record["data"]["spec"]), record["data"]["num_examples"])
