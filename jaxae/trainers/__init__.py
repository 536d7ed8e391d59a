"""Trainers: the contract every family implements (base), the registry that builds the family a
config names (registry), the seeds wrapper (seeds), and one sub-package per family.

``create_trainer(config, spec, num_examples)`` builds the family that ``config.trainer`` names.
"""

from jaxae.trainers.base import Phase, Trainer
from jaxae.trainers.registry import FAMILIES, create_trainer, register, trainer_class

__all__ = ["FAMILIES", "Phase", "Trainer", "create_trainer", "register", "trainer_class"]
