"""The registry of families: `config.trainer` names a family, `create_trainer` builds it (wrapped by
the seeds wrapper when `num_seeds` > 1). Families are imported by name, only the one in use."""

from __future__ import annotations

import importlib

from jaxae.errors import ConfigError
from jaxae.trainers.base import Trainer
from jaxae.trainers.seeds import SeedsTrainer


# The families by the name `config.trainer` gives, as "module:class" so that only the one in use
# is imported.
FAMILIES = {
    "autoencoder": "jaxae.trainers.autoencoder.trainer:AutoencoderTrainer",
    "ae_kmeans": "jaxae.trainers.clustering.ae_kmeans:AEKMeansTrainer",
    "dcn": "jaxae.trainers.clustering.dcn:DCNTrainer",
    "dec": "jaxae.trainers.clustering.dec:DECTrainer",
    "vade": "jaxae.trainers.clustering.vade:VaDETrainer",
    "jule": "jaxae.trainers.clustering.jule:JULETrainer",
    "n2d": "jaxae.trainers.clustering.n2d:N2DTrainer",
    "gan": "jaxae.trainers.adversarial.gan:GANTrainer",
    "aae": "jaxae.trainers.adversarial.aae:AAETrainer",
    "tabular": "jaxae.trainers.tabular.trainer:TabularTrainer",
    "classifier": "jaxae.trainers.classifier.trainer:ClassifierTrainer",
    "autorec": "jaxae.trainers.autorec.trainer:AutoRecTrainer",
    "sgns": "jaxae.trainers.sgns.trainer:SkipGramTrainer",
}


def register(name: str, trainer_class) -> None:
    """Adds a family (a Trainer subclass, or a "module:class" path) under `name`."""
    FAMILIES[name] = trainer_class


def trainer_class(name):
    """The Trainer subclass registered as `name`; ConfigError naming the choices otherwise."""
    if not isinstance(name, str) or name not in FAMILIES:
        raise ConfigError(f"trainer={name!r} is unknown; choose one of {sorted(FAMILIES)}")
    entry = FAMILIES[name]
    if isinstance(entry, str):
        module, _, attribute = entry.partition(":")
        entry = getattr(importlib.import_module(module), attribute)
    return entry


def create_trainer(config, spec: dict, num_examples: int, *, axis_name: str | None = None) -> Trainer:
    """The family's trainer for `config.trainer`, built for a training split of `spec` and size;
    with `num_seeds` > 1, wrapped to train that many seeds at once."""
    trainer = trainer_class(config.trainer)(config, spec, num_examples, axis_name=axis_name)
    num_seeds = config.get("num_seeds", 1)
    if num_seeds > 1:
        trainer = SeedsTrainer(trainer, num_seeds)
    return trainer
