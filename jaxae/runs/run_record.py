"""What a run records about itself, so that it can be checked on resume and loaded back.

The record (saved in every checkpoint's JSON metadata and in ``<workdir>/run.json``) holds the
full resolved config, the training data's spec, size, fingerprint and origin (a tfds data set's
name and split, or the caller's arrays), its `input_transform` where the data set has one (a
table's column transform, `TableEncoder.to_json`), the eval data's origin, and the package versions.
The identity is the flat part of it that a resume must match: the family's own fields
(`Trainer.identity`) plus the family's name, the seed, the batch size, and the data.
"""

from __future__ import annotations

import json
from typing import Any

import ml_collections

from jaxae.data import spec as specs

RECORD_FILE = "run.json"


def versions() -> dict[str, str]:
    """The versions of jaxae and the JAX stack in this process."""
    from importlib import metadata

    import jaxae

    found = {"jaxae": jaxae.__version__}
    for package in ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "absent"
    return found


def config_to_json(config) -> dict:
    return json.loads(config.to_json_best_effort(sort_keys=True))


def config_from_json(record: dict) -> ml_collections.ConfigDict:
    """The ConfigDict back from its JSON form; JSON lists become the tuples configs use."""

    def tuples(value):
        if isinstance(value, dict):
            return {key: tuples(item) for key, item in value.items()}
        return tuple(tuples(item) for item in value) if isinstance(value, list) else value

    return ml_collections.ConfigDict(tuples(record))


def make_record(config, source, num_examples: int, eval_source=None) -> dict[str, Any]:
    """The run record for `config` trained on `source` (the training split) and evaluated on `eval_source`."""
    data = {"fingerprint": source.fingerprint(), "num_examples": num_examples, "spec": specs.spec_to_json(source.spec),
            "origin": origin(source)}
    if eval_source is not None:
        data["eval_origin"] = origin(eval_source)
    transform = getattr(source, "metadata", {}).get("input_transform")
    if transform:  # How raw rows become the fields (a table's scalers and categories): a loaded model applies it.
        data["input_transform"] = json.loads(json.dumps(transform))
    return {"config": config_to_json(config), "data": data, "versions": versions()}


def origin(source) -> dict[str, Any]:
    """Where a source's data came from: {'kind': 'tfds', 'name', 'split', 'data_dir'} or
    {'kind': 'arrays', 'name'} (also for a source of the caller's own making)."""
    return dict(getattr(source, "origin", None) or {"kind": "arrays", "name": source.where})


def recorded_origin(record: dict, which: str = "origin") -> dict[str, Any]:
    """A run record's data origin ('origin': training, 'eval_origin': eval); for runs recorded before
    origins were, read from the training data's fingerprint ('tfds <name> ...' or an arrays hash)."""
    data = record["data"]
    if which in data:
        return data[which]
    if which == "eval_origin" and "origin" in data:
        return {"kind": "unknown"}  # Trained on a source with an origin but evaluated on one without: none known.
    if data["fingerprint"].startswith("tfds "):
        config = record["config"]["data"]
        split = config["train_split"] if which == "origin" else config["eval_split"]
        return {"kind": "tfds", "name": data["fingerprint"].split()[1], "split": split,
                "data_dir": config.get("tfds_data_dir") or None}
    return {"kind": "arrays", "name": "arrays"}


def identity(config, trainer, source) -> dict[str, Any]:
    """The flat {name: JSON value} record that a checkpoint and a run resuming it must share."""
    record = {"trainer": config.trainer, "seed": config.seed, "batch_size": config.batch_size,
              "data.fingerprint": source.fingerprint()}
    for name in trainer.train_fields(config):
        record[f"data.{name}"] = source.spec[name].to_json()
    return record | trainer.identity()


def differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """'field: checkpoint X, this run Y' for each field whose value differs."""
    lines = []
    for key in sorted(set(saved) | set(current)):
        if saved.get(key, "<absent>") != current.get(key, "<absent>"):
            lines.append(f"{key}: checkpoint {saved.get(key, '<absent>')!r}, this run {current.get(key, '<absent>')!r}")
    return lines


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """{'model.latent_dim': 20, ...} from nested dicts."""
    if isinstance(tree, dict):
        out = {}
        for key, value in tree.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: tree}
