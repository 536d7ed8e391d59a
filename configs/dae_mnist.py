"""A denoising MLP autoencoder: inputs corrupted by masking noise, clean targets."""

from jaxae.config import defaults, experiments


def get_config(variant: str = ""):
    defaults.check_variant(variant)
    config = experiments.get_config("ae_mnist", variant)
    config.noise.kind = "masking"
    config.noise.level = 0.3
    return config
