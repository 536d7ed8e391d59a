"""A convolutional VAE (32 and 64 channels, 28 -> 14 -> 7) on the embedded MNIST subset."""

from configs import common, vae_mnist


def get_config(variant: str = ""):
    common.check_variant(variant)
    config = vae_mnist.get_config(variant)
    config.model.architecture = "conv"
    if variant != "tiny":
        config.num_epochs = 30
    return config
