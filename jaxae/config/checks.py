"""Checks of single config fields, shared by the loop's and every family's validation.

Each raises ConfigError with one line naming the dotted field and its value.
"""

from __future__ import annotations

import math
import os
import numbers

from jaxae.errors import ConfigError


def get(config, field: str):
    """The value of dotted `field` ('model.latent_dim'); ConfigError if the config has no such field."""
    node = config
    for part in field.split("."):
        try:
            node = node[part]
        except (KeyError, AttributeError, TypeError):
            raise ConfigError(f"config has no field {field!r}") from None
    return node


def choice(config, field: str, choices) -> None:
    value = get(config, field)
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(f"{field}={value!r} is unknown; choose one of {sorted(choices)}")


def number(config, field: str, *, low=None, high=None, integer=False, low_open=False, high_open=False) -> None:
    """A finite int (integer=True) or real within [low, high] (open ends where asked)."""
    number_value(field, get(config, field), low=low, high=high, integer=integer, low_open=low_open,
                 high_open=high_open)


def number_value(name: str, value, *, low=None, high=None, integer=False, low_open=False, high_open=False) -> None:
    """`number` for a value named `name` (a config field, an estimator's parameter)."""
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ConfigError(f"{name}={value!r} must be {'an integer' if integer else 'a number'}")
    if not math.isfinite(value):
        raise ConfigError(f"{name}={value!r} must be a finite number")
    if low is not None and (value < low or (low_open and value == low)):
        raise ConfigError(f"{name}={value!r} must be {'>' if low_open else '>='} {low}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ConfigError(f"{name}={value!r} must be {'<' if high_open else '<='} {high}")


def widths(config, field: str, *, allow_empty: bool) -> None:
    """A tuple of positive integer sizes (layer widths, channels)."""
    widths_value(field, get(config, field), allow_empty=allow_empty)


def widths_value(name: str, value, *, allow_empty: bool) -> None:
    """`widths` for a value named `name` (a config field, an estimator's parameter)."""
    if not isinstance(value, (tuple, list)) or (not value and not allow_empty):
        raise ConfigError(f"{name}={value!r} must be a {'possibly empty ' if allow_empty else ''}tuple of sizes")
    for width in value:
        if isinstance(width, bool) or not isinstance(width, numbers.Integral) or width <= 0:
            raise ConfigError(f"{name}={tuple(value)!r} must hold positive integers; found {width!r}")


def boolean(config, field: str) -> None:
    """True or False (not 0, 1 or a string)."""
    value = get(config, field)
    if not isinstance(value, bool):
        raise ConfigError(f"{field}={value!r} must be True or False")


def text(config, field: str, *, allow_empty: bool = False) -> None:
    """A string (non-empty unless `allow_empty`)."""
    value = get(config, field)
    if not isinstance(value, str) or not (value or allow_empty):
        raise ConfigError(f"{field}={value!r} must be a {'' if allow_empty else 'non-empty '}string")


def named_or_file(config, field: str, names, *, what: str = "a file's path") -> None:
    """One of `names`, or the path of an existing file."""
    value = get(config, field)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{field}={value!r} must be one of {list(names)} or {what}")
    if value not in names and not os.path.isfile(value):
        raise ConfigError(f"{field}={value!r} is neither one of {list(names)} nor a file")
