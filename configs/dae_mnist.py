"""A denoising MLP autoencoder: inputs corrupted by masking noise, clean targets."""

from configs import ae_mnist, common


def get_config(variant: str = ""):
    common.check_variant(variant)
    config = ae_mnist.get_config(variant)
    config.noise.kind = "masking"
    config.noise.level = 0.3
    return config
