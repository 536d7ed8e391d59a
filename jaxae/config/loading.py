"""Config files and command-line overrides, with one-line errors for every mistake.

A config file is plain Python with ``get_config(variant="")`` returning an
``ml_collections.ConfigDict``; ``path.py:tiny`` asks for the variant 'tiny'. Overrides are
``--config.<dotted field>=<value>`` (or ``--config.<field> <value>``), parsed by the type of the
field they replace.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import os

import ml_collections

from jaxae.errors import ConfigError

PREFIX = "--config."


def split_overrides(argv: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """(argv without config overrides, [(field, text), ...]) in the order given."""
    rest, overrides, i = [], [], 0
    while i < len(argv):
        argument = argv[i]
        if argument.startswith(PREFIX):
            field, equals, value = argument[len(PREFIX):].partition("=")
            if not equals:
                if i + 1 == len(argv):
                    raise ConfigError(f"{argument} needs a value: {argument}=VALUE")
                i, value = i + 1, argv[i + 1]
            overrides.append((field, value))
        else:
            rest.append(argument)
        i += 1
    return rest, overrides


def load_config(argument: str) -> ml_collections.ConfigDict:
    """The ConfigDict of 'path/to/config.py[:variant]', read from that file whatever the working directory."""
    path, _, variant = argument.partition(":") if not os.path.exists(argument) else (argument, "", "")
    if not os.path.isfile(path):
        raise ConfigError(f"--config={argument}: no config file {os.path.abspath(path)!r}")
    name = f"jaxae_config_{abs(hash(os.path.abspath(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        raise ConfigError(f"{path}:{error.lineno}: syntax error: {error.msg}") from None
    except Exception as error:
        raise ConfigError(f"{path}: importing it failed: {type(error).__name__}: {error}") from None
    get_config = getattr(module, "get_config", None)
    if not callable(get_config):
        raise ConfigError(f"{path} defines no get_config(); a config file returns its ConfigDict from get_config(variant='')")
    takes_variant = bool(inspect.signature(get_config).parameters)
    if variant and not takes_variant:
        raise ConfigError(f"--config={argument}: {path}'s get_config() takes no variant")
    try:
        config = get_config(variant) if takes_variant else get_config()
    except Exception as error:
        raise ConfigError(f"{path}: get_config({variant!r}) failed: {type(error).__name__}: {error}") from None
    if not isinstance(config, ml_collections.ConfigDict):
        raise ConfigError(f"{path}: get_config() must return an ml_collections.ConfigDict; it returned "
                          f"{type(config).__name__}")
    return config


def _parse(field: str, text: str, current):
    """`text` as a value of the type of `current`, the field's value in the config."""
    what = f"--config.{field}={text}"
    if isinstance(current, bool):
        lowered = text.strip().lower()
        if lowered not in ("true", "false", "1", "0", "yes", "no"):
            raise ConfigError(f"{what}: {field} is a boolean; say true or false")
        return lowered in ("true", "1", "yes")
    if isinstance(current, (int, float)):  # An int field takes integers only, a float field any number.
        try:
            return type(current)(text)
        except ValueError:
            raise ConfigError(f"{what}: {field} is {'an integer' if isinstance(current, int) else 'a number'}") from None
    if isinstance(current, str):
        return text
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        if current is None:
            return text
        raise ConfigError(f"{what}: {field} is a {type(current).__name__}; write it as a Python literal, "
                          f"e.g. (512, 256)") from None
    if isinstance(current, (tuple, list)):
        value = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    return value


def apply_overrides(config: ml_collections.ConfigDict, overrides: list[tuple[str, str]]) -> None:
    """Sets each (dotted field, text) in `config`; ConfigError for a field it does not have."""
    for field, text in overrides:
        parent, _, leaf = field.rpartition(".")
        node = config
        for part in parent.split(".") if parent else []:
            if not isinstance(node, ml_collections.ConfigDict) or part not in node:
                raise ConfigError(f"--config.{field}: the config has no section {parent!r}")
            node = node[part]
        if not isinstance(node, ml_collections.ConfigDict) or leaf not in node:
            known = ", ".join(sorted(node.keys())) if isinstance(node, ml_collections.ConfigDict) else ""
            raise ConfigError(f"--config.{field}: the config has no field {field!r}"
                              + (f"; {parent or 'the top level'} has {known}" if known else ""))
        if isinstance(node[leaf], ml_collections.ConfigDict):
            raise ConfigError(f"--config.{field} names a section; set one of its fields, e.g. --config.{field}.X=...")
        with node.ignore_type():
            node[leaf] = _parse(field, text, node[leaf])


def config_from_command_line(argument: str, overrides: list[tuple[str, str]]) -> ml_collections.ConfigDict:
    """The config file's ConfigDict with the overrides applied, locked (no new fields may appear)."""
    config = load_config(argument)
    apply_overrides(config, overrides)
    config.lock()
    return config

