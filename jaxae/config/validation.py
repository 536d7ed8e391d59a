"""Checks a run's config before anything is read or compiled: the loop's fields here, then the
family's own (`Trainer.validate_config`). Every error names the field and its value."""

from __future__ import annotations

import difflib
import functools

from jaxae.config import checks, defaults, experiments
from jaxae.devices.parallel import MODES
from jaxae.errors import ConfigError
from jaxae.models import COMPUTE_DTYPES
from jaxae.trainers.registry import trainer_class

PLACEMENTS = ("auto", "device", "stream")
PATH_DATA = ("image_folder", "csv")  # The data.name values that read data.path.
# The data fields only some data sets read: {field: the data.name values that read it} (data.csv.*: 'csv').
READERS = {"path": PATH_DATA, "test_fraction": PATH_DATA, "split_seed": PATH_DATA, "image_size": ("image_folder",),
           "channels": ("image_folder",)}
NONFINITE = ("stop", "skip")


def validate_loop_config(config) -> None:
    """The fields the shared loop reads: data, cadence, devices, seed; ConfigError for the first bad one."""
    checks.choice(config, "compute_dtype", COMPUTE_DTYPES)
    checks.text(config, "data.name")
    checks.text(config, "data.train_split")
    checks.text(config, "data.eval_split")
    checks.text(config, "data.tfds_data_dir", allow_empty=True)
    checks.text(config, "compile_cache_dir", allow_empty=True)
    checks.choice(config, "data.placement", PLACEMENTS)
    checks.number(config, "data.device_memory_budget_mb", low=0)
    checks.number(config, "data.host_memory_budget_mb", low=0)
    checks.number(config, "data.prefetch", low=1, integer=True)
    _check_path_fields(config)
    _check_early_stopping(config)
    checks.choice(config, "parallel.mode", MODES)
    checks.choice(config, "nonfinite", NONFINITE)
    checks.number(config, "seed", low=0, high=2**32 - 1, integer=True)
    for field in ("batch_size", "eval_batch_size", "log_every", "checkpoint_every", "keep_checkpoints", "num_seeds"):
        checks.number(config, field, low=1, integer=True)
    for field in ("eval_every", "steps_per_dispatch", "num_image_examples", "num_samples", "parallel.num_devices"):
        checks.number(config, field, low=0, integer=True)
    if config.checkpoint_every % config.log_every:
        raise ConfigError(f"checkpoint_every={config.checkpoint_every} must be a multiple of "
                          f"log_every={config.log_every}, so a resumed run logs the same windows")


def _check_path_fields(config) -> None:
    """The fields of a user's folder or file (data.path and its options): valid, and set only where
    data.name reads them (never ignored)."""
    checks.text(config, "data.path", allow_empty=True)
    checks.number(config, "data.image_size", low=0, integer=True)
    checks.number(config, "data.channels", low=0, high=3, integer=True)
    if config.data.channels == 2:
        raise ConfigError("data.channels=2 must be 0 (as the images are), 1 (grey) or 3 (colour)")
    checks.number(config, "data.test_fraction", low=0, high=1, low_open=True, high_open=True)
    checks.number(config, "data.split_seed", low=0, high=2**32 - 1, integer=True)
    if "csv" in config.data:
        for field in ("label", "categorical", "ordinal", "ignore"):
            checks.text(config, f"data.csv.{field}", allow_empty=True)
        checks.text(config, "data.csv.delimiter")
    name = config.data.name
    if name in PATH_DATA and not config.data.path:
        raise ConfigError(f"data.name={name!r} needs data.path, the {'folder of images' if name == 'image_folder' else 'CSV file'}")
    base = defaults.get_base_config().data
    set_here = {f"data.{field}": config.data[field] for field in READERS if config.data[field] != base[field]}
    if "csv" in config.data:
        csv_base = defaults.get_tabular_config().data.csv
        set_here |= {f"data.csv.{field}": value for field, value in config.data.csv.items() if value != csv_base[field]}
    for field, value in set_here.items():
        readers = READERS.get(field.split(".")[1], ("csv",))
        if name not in readers:
            raise ConfigError(f"{field}={value!r} is read only with data.name={' or '.join(map(repr, readers))}; "
                              f"data.name={name!r} would ignore it")


def _check_early_stopping(config) -> None:
    """ConfigError for the first bad field of `config.early_stopping` (nothing to check when off)."""
    checks.text(config, "early_stopping.metric", allow_empty=True)
    if not config.early_stopping.metric:
        base = defaults.get_base_config().early_stopping
        changed = [field for field in base if config.early_stopping[field] != base[field]]
        if changed:
            raise ConfigError(f"early_stopping.{changed[0]}={config.early_stopping[changed[0]]!r} is read only with "
                              "early_stopping.metric set; early_stopping.metric='' would ignore it")
        return
    refused = trainer_class(config.trainer).early_stopping_refused
    if refused:
        raise ConfigError(f"early_stopping.metric is set, but trainer={config.trainer!r} cannot stop early: {refused}")
    if config.early_stopping.metric.startswith(("eval/", "validation/")):
        raise ConfigError(f"early_stopping.metric={config.early_stopping.metric!r}: name the metric alone, e.g. "
                          f"{config.early_stopping.metric.split('/', 1)[1]!r}")
    checks.choice(config, "early_stopping.mode", ("min", "max"))
    checks.number(config, "early_stopping.patience", low=1, integer=True)
    checks.number(config, "early_stopping.min_delta", low=0)
    checks.number(config, "early_stopping.validation_fraction", low=0, high=1, low_open=True, high_open=True)
    checks.number(config, "early_stopping.split_seed", low=0, high=2**32 - 1, integer=True)
    if not config.eval_every:
        raise ConfigError("early_stopping.metric is set but eval_every=0: early stopping watches the evals; "
                          "set eval_every to the steps between them")


def validate_config(config) -> None:
    """No unknown fields, then the loop's checks, then those of the family named by `config.trainer`."""
    family = trainer_class(checks.get(config, "trainer"))
    check_known_fields(config)
    validate_loop_config(config)
    family.validate_config(config)


def known_fields(trainer: str) -> frozenset[str] | None:
    """Every dotted field that a shipped experiment of the family `trainer` sets (`configs/*.py`, both
    variants): the fields the family and the loop read. None for a family no shipped config trains
    (one registered by a user), whose fields are not checked by name."""
    return _fields_by_family().get(trainer)


@functools.lru_cache(maxsize=None)
def _fields_by_family() -> dict[str, frozenset[str]]:
    """{trainer: the dotted fields its shipped experiments set}, every experiment file read once a process."""
    fields = {}
    for name in experiments.names():
        for config in _shipped_configs(name):
            fields.setdefault(config.get("trainer"), set()).update(_dotted(config))
    return {trainer: frozenset(names) for trainer, names in fields.items()}


def _shipped_configs(name: str) -> list:
    """The configs an experiment file makes, both variants; none for a file that is not a config of
    the shipped kind (a user's file dropped there must not break every run's validation)."""
    try:
        return [experiments.get_config(name, variant) for variant in defaults.VARIANTS]
    except ConfigError:  # An import error, an unknown variant, ...: not one of ours.
        return []


def check_known_fields(config) -> None:
    """ConfigError naming the first field no shipped config of this family has (a typo such as
    `model.latnt_dim`, which would otherwise be stored and ignored), with the nearest known one."""
    known = known_fields(config.trainer)
    for field in _dotted(config) if known else ():
        if field not in known:
            close = difflib.get_close_matches(field, sorted(known), n=1, cutoff=0.6)
            raise ConfigError(f"config has no field {field!r} for trainer={config.trainer!r}"
                              + (f"; did you mean {close[0]!r}?" if close else "; it would be ignored"))


def _dotted(config, prefix: str = ""):
    """The dotted names of a ConfigDict's leaves ('model.latent_dim', ...), in order."""
    for key, value in config.items():
        if hasattr(value, "items"):
            yield from _dotted(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"
