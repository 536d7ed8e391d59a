"""A run's setup: what the run is, built and checked once, before anything is compiled.

`set_up` takes the config and the opened sources through every check the loop makes before
compute (the config, the devices, the fields the family reads, the labels' range, the family's own
look at the data, whether the state fits the devices) and returns one `RunSetup`, which a
`loop.Session` runs. Nothing here writes a file.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np

from jaxae.config import checks
from jaxae.config.validation import validate_config
from jaxae.data import host, pipeline, spec as specs, splits
from jaxae.devices import parallel
from jaxae.engine import early_stopping
from jaxae.engine.events import EventPlan
from jaxae.errors import ConfigError, DataError
from jaxae.runs import resume, run_record
from jaxae.runs.workdir import workdir_path
from jaxae.trainers.base import eval_fields_read
from jaxae.trainers.registry import create_trainer, trainer_class


@dataclasses.dataclass(frozen=True)
class RunSetup:
    """One run, as `set_up` built and checked it.

    Attributes:
      config: the run's ConfigDict, validated, with the fields its data sets (`with_fields_of_the_data`).
      workdir: the absolute path the run trains in (`set_up` does not create it; `loop.train`
        prepares it before a session starts).
      trainer: the family's trainer (wrapped by `SeedsTrainer` when num_seeds > 1).
      plan: the run's phases and events on absolute steps.
      train_source, eval_source: the opened splits, as given (a session decodes them into host
        memory once, where they fit); with early stopping, the training split less its validation part.
      validation_source: early stopping's validation part of the training split, or None.
      order: the batch order, a pure function of the seed and the step.
      mesh: the devices the run trains on.
      abstract: the state's ShapeDtypeStructs with their shardings: the restore target.
      identity: what a checkpoint and the run resuming it must share (`run_record.identity`).
      record: the run record written beside the checkpoints (`run_record.make_record`).
    """

    config: Any
    workdir: str
    trainer: Any
    plan: EventPlan
    train_source: Any
    eval_source: Any
    validation_source: Any
    order: pipeline.BatchOrder
    mesh: Any
    abstract: Any
    identity: dict
    record: dict


def set_up(config, workdir: str, train_source, eval_source, mesh=None, *, on_mismatch: str = "fail") -> RunSetup:
    """The checked `RunSetup` of training `config` on the sources in `workdir` (see `loop.train`).

    Raises:
      ConfigError, DataError: the first thing that is wrong, in one line, before any compute.
    """
    config = with_fields_of_the_data(config, train_source)
    validate_config(config)
    if on_mismatch not in ("fail", "new_workdir"):
        raise ConfigError(f"on_mismatch={on_mismatch!r} must be 'fail' or 'new_workdir'")
    workdir = workdir_path(workdir)
    _check_fields(config, train_source, eval_source)
    validation_source = None
    if early_stopping.enabled(config):  # Carved before anything reads the training split's size.
        section = config.early_stopping
        train_source, validation_source = splits.carve(train_source, section.validation_fraction, section.split_seed)
    mesh = mesh or parallel.make_mesh(config.parallel.num_devices)
    check_devices(config, mesh)
    order = pipeline.BatchOrder(len(train_source), config.batch_size, config.seed)
    axis_name = parallel.DATA_AXIS if config.parallel.mode == "pmap" else None
    trainer = create_trainer(config, train_source.spec, len(train_source), axis_name=axis_name)
    _check_labels(trainer, train_source, eval_source)
    trainer.check_data(train_source)
    plan = EventPlan(trainer.phases(), log_every=config.log_every, eval_every=config.eval_every,
                     checkpoint_every=config.checkpoint_every)
    abstract = resume.abstract_state(trainer, mesh, config.seed)
    parallel.check_state_fits(abstract, mesh)
    identity = run_record.identity(config, trainer, train_source)
    record = run_record.make_record(config, train_source, len(train_source), eval_source)
    if on_mismatch == "new_workdir":
        workdir = resume.workdir_for(workdir, identity, abstract, record["config"])
    return RunSetup(config, workdir, trainer, plan, train_source, eval_source, validation_source, order, mesh,
                    abstract, identity, record)


def with_fields_of_the_data(config, source):
    """`config` with the fields the data set's metadata sets (`config_fields`, {dotted field: value}:
    a CSV table's `table.cardinalities`, which its columns decide), on a copy; unchanged without any.

    Raises:
      ConfigError: the config sets such a field to another value.
    """
    fields = getattr(source, "metadata", {}).get("config_fields", {})
    if not fields:
        return config
    config = config.copy_and_resolve_references()
    for field, value in fields.items():
        section, _, name = field.rpartition(".")
        node = checks.get(config, section) if section else config
        value = tuple(value) if isinstance(value, list) else value
        current = node[name]
        if current == value:
            continue
        if current not in ((), "", None, 0):
            raise ConfigError(f"{field}={current!r}, but {source.where} sets it to {value!r} (from its data); leave "
                              f"{field} unset")
        node[name] = value
    return config


def _check_fields(config, train_source, eval_source) -> None:
    """The sources hold the fields the family asks for, of the right kinds, alike in both splits."""
    family, who = trainer_class(config.trainer), f"trainer={config.trainer!r}"
    train_fields, eval_fields = family.train_fields(config), eval_fields_read(family, config, eval_source.spec)
    specs.require(train_source.spec, train_fields, who=who, where=train_source.where)
    specs.require(eval_source.spec, eval_fields, who=who, where=eval_source.where)
    for name in set(train_fields) & set(eval_fields):
        if eval_source.spec[name].shape != train_source.spec[name].shape:
            raise DataError(f"field {name!r} is {eval_source.spec[name].shape} per example in {eval_source.where} "
                            f"but {train_source.spec[name].shape} in {train_source.where}")


def check_devices(config, mesh) -> None:
    """The platform is the one the config asks for and both batch sizes divide over the devices."""
    parallel.check_platform(config, mesh.devices.flat[0].platform, jax.process_count(), jax.device_count())
    parallel.check_batch_divides(config.batch_size, mesh)
    parallel.check_batch_divides(config.eval_batch_size, mesh, "eval_batch_size")


def _check_labels(trainer, train_source, eval_source) -> None:
    """DataError when a split's labels, where the family reads them, reach its class count."""
    classes = trainer.label_classes()
    if classes is None:
        return
    count, what = classes
    for source, fields in ((train_source, trainer.train_fields(trainer.config)),
                           (eval_source, eval_fields_read(trainer, trainer.config, eval_source.spec))):
        field = source.spec.get("label")
        if "label" not in fields or field is None or (field.vocab_size is not None and field.vocab_size <= count):
            continue
        labels = host.read_all(source, ["label"])["label"]  # In memory for arrays; tfds sets say their count.
        bad = np.flatnonzero(labels >= count)
        if bad.size:
            raise DataError(f"{source.where} field 'label' holds {labels[bad[0]]} at example {bad[0]} ({bad.size} "
                            f"labels >= {count}), but {what} counts labels 0..{count - 1} only")
