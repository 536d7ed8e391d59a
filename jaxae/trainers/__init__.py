"""Trainers: one module per model family, each a `base.Trainer` registered in `base.FAMILIES`.

``create_trainer(config, spec, num_examples)`` builds the family that ``config.trainer`` names.
"""

from jaxae.trainers.base import FAMILIES, Phase, Trainer, create_trainer, register, trainer_class

__all__ = ["FAMILIES", "Phase", "Trainer", "create_trainer", "register", "trainer_class"]
