"""A convolutional VAE (32 and 64 channels, 28 -> 14 -> 7) on the embedded MNIST subset.

    python train.py --config configs/conv_vae_mnist.py --workdir runs/conv_vae_mnist

reaches test negative ELBO 102.5 nats, in 36 s on the project's 2-core CPU (docs/autoencoders.md).
"""

from jaxae.config import defaults, experiments


def get_config(variant: str = ""):
    defaults.check_variant(variant)
    config = experiments.get_config("vae_mnist", variant)
    config.model.architecture = "conv"
    if variant != "tiny":
        config.num_epochs = 30
    return config
