"""Trainers: one module per model family, each offering init / train_step / eval_step.

``create_trainer(config, image_shape, num_steps)`` picks the family from ``config.model.name``.
"""

from jaxae.errors import ConfigError
from jaxae.trainers.autoencoder import AutoencoderTrainer

TRAINERS = {"ae": AutoencoderTrainer, "vae": AutoencoderTrainer}


def create_trainer(config, image_shape, num_steps: int, axis_name=None):
    """The trainer for `config.model.name`; raises ConfigError for an unknown name."""
    try:
        trainer_cls = TRAINERS[config.model.name]
    except KeyError:
        raise ConfigError(f"model.name={config.model.name!r} is unknown; choose one of {sorted(TRAINERS)}") from None
    return trainer_cls(config, image_shape, num_steps, axis_name=axis_name)
