"""A denoising MLP autoencoder: inputs corrupted by masking noise, clean targets.

    python train.py --config configs/dae_mnist.py --workdir runs/dae_mnist

reaches test reconstruction MSE 0.0159 per pixel (BCE 90.9 nats) from clean inputs, in 16 s on the
project's 2-core CPU (docs/autoencoders.md).
"""

from jaxae.config import defaults, experiments


def get_config(variant: str = ""):
    defaults.check_variant(variant)
    config = experiments.get_config("ae_mnist", variant)
    config.noise.kind = "masking"
    config.noise.level = 0.3
    return config
