"""Checks a run's config before anything is read or compiled; every error names the field and value."""

from __future__ import annotations

import math
import numbers
import os
import tempfile

from jaxae.corruptions import CORRUPTIONS
from jaxae.data.transforms import BINARIZATIONS
from jaxae.errors import ConfigError
from jaxae.models import ARCHITECTURES, COMPUTE_DTYPES, KERNEL_INITS, MODELS
from jaxae.models.activations import ACTIVATIONS
from jaxae.models.autoencoder import OUTPUT_ACTIVATIONS
from jaxae.optimizers import OPTIMIZERS, SCHEDULES
from jaxae.parallel import MODES
from jaxae.trainers.autoencoder import RECONSTRUCTION_LOSSES

PLACEMENTS = ("auto", "device", "stream")


def _get(config, field: str):
    node = config
    for part in field.split("."):
        try:
            node = node[part]
        except (KeyError, AttributeError, TypeError):
            raise ConfigError(f"config has no field {field!r}") from None
    return node


def _choice(config, field, choices):
    value = _get(config, field)
    if value not in choices:
        raise ConfigError(f"{field}={value!r} is unknown; choose one of {sorted(choices)}")


def _number(config, field, *, low=None, high=None, integer=False, low_open=False, high_open=False):
    value = _get(config, field)
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ConfigError(f"{field}={value!r} must be {'an integer' if integer else 'a number'}")
    if not math.isfinite(value):
        raise ConfigError(f"{field}={value!r} must be a finite number")
    if low is not None and (value < low or (low_open and value == low)):
        raise ConfigError(f"{field}={value!r} must be {'>' if low_open else '>='} {low}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ConfigError(f"{field}={value!r} must be {'<' if high_open else '<='} {high}")


def _widths(config, field, *, allow_empty):
    value = _get(config, field)
    if not isinstance(value, (tuple, list)) or (not value and not allow_empty):
        raise ConfigError(f"{field}={value!r} must be a {'possibly empty ' if allow_empty else ''}tuple of sizes")
    for width in value:
        if isinstance(width, bool) or not isinstance(width, numbers.Integral) or width <= 0:
            raise ConfigError(f"{field}={tuple(value)!r} must hold positive integers; found {width!r}")


def validate_config(config) -> None:
    """Raises ConfigError for the first field that is missing, of the wrong type, or out of range."""
    _choice(config, "model.name", MODELS)
    _choice(config, "model.architecture", ARCHITECTURES)
    _choice(config, "model.activation", ACTIVATIONS)
    _choice(config, "model.output_activation", OUTPUT_ACTIVATIONS)
    _choice(config, "model.weight_init", KERNEL_INITS)
    _choice(config, "compute_dtype", COMPUTE_DTYPES)
    _number(config, "model.latent_dim", low=1, integer=True)
    _widths(config, "model.hidden", allow_empty=True)
    _widths(config, "model.decoder_hidden", allow_empty=True)
    _widths(config, "model.channels", allow_empty=False)

    _choice(config, "loss.reconstruction", RECONSTRUCTION_LOSSES)
    if config.loss.reconstruction == "bce" and config.model.output_activation != "sigmoid":
        raise ConfigError("loss.reconstruction='bce' needs model.output_activation='sigmoid' (a Bernoulli "
                          f"mean); got {config.model.output_activation!r}")
    for field in ("loss.beta", "loss.l1_weight", "loss.l2_weight", "loss.activity_l1", "loss.kl_sparsity_weight"):
        _number(config, field, low=0)
    _number(config, "loss.kl_warmup_steps", low=0, integer=True)
    _number(config, "loss.kl_sparsity_target", low=0, high=1, low_open=True, high_open=True)

    _choice(config, "noise.kind", ("none", *CORRUPTIONS))
    if config.noise.kind == "gaussian":
        _number(config, "noise.level", low=0)
    elif config.noise.kind != "none":
        _number(config, "noise.level", low=0, high=1, high_open=True)

    if not isinstance(config.data.name, str) or not config.data.name:
        raise ConfigError(f"data.name={config.data.name!r} must name a data set")
    _choice(config, "data.binarize", BINARIZATIONS)
    _number(config, "data.binarize_threshold", low=0, high=1)
    _choice(config, "data.placement", PLACEMENTS)
    _number(config, "data.device_memory_budget_mb", low=0)
    _number(config, "data.host_memory_budget_mb", low=0)
    _number(config, "data.prefetch", low=1, integer=True)

    _choice(config, "optimizer.name", OPTIMIZERS)
    _choice(config, "optimizer.schedule", SCHEDULES)
    _number(config, "optimizer.learning_rate", low=0, low_open=True)
    _number(config, "optimizer.warmup_steps", low=0, integer=True)
    _number(config, "optimizer.grad_clip_norm", low=0)

    _choice(config, "parallel.mode", MODES)
    _choice(config, "nonfinite", ("stop", "skip"))
    _number(config, "seed", low=0, high=2**32 - 1, integer=True)
    for field in ("batch_size", "eval_batch_size", "log_every", "checkpoint_every", "keep_checkpoints"):
        _number(config, field, low=1, integer=True)
    for field in ("num_epochs", "num_steps", "eval_every", "steps_per_dispatch", "num_image_examples",
                  "num_samples", "parallel.num_devices"):
        _number(config, field, low=0, integer=True)
    if config.num_steps == 0 and config.num_epochs == 0:
        raise ConfigError("num_epochs=0 and num_steps=0: set one of them to a positive number")
    if config.checkpoint_every % config.log_every:
        raise ConfigError(f"checkpoint_every={config.checkpoint_every} must be a multiple of "
                          f"log_every={config.log_every}, so a resumed run logs the same windows")


def prepare_workdir(workdir: str) -> str:
    """Creates `workdir` if needed and proves it writable; returns its absolute path."""
    if not workdir:
        raise ConfigError("--workdir is empty: name a directory for checkpoints, metrics and images")
    path = os.path.abspath(os.path.expanduser(workdir))
    if os.path.exists(path) and not os.path.isdir(path):
        raise ConfigError(f"workdir {path!r} exists and is not a directory")
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as error:
        raise ConfigError(f"workdir {path!r} is not writable: {error.strerror or error}") from None
    return path
