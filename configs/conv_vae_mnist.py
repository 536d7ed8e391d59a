"""A convolutional VAE (32 and 64 channels, 28 -> 14 -> 7) on the embedded MNIST subset."""

from jaxae.config import defaults, experiments


def get_config(variant: str = ""):
    defaults.check_variant(variant)
    config = experiments.get_config("vae_mnist", variant)
    config.model.architecture = "conv"
    if variant != "tiny":
        config.num_epochs = 30
    return config
