"""A sparse overcomplete MLP autoencoder: a 1,024-unit code held sparse by a KL rate penalty.

    python train.py --config configs/sparse_ae_mnist.py --workdir runs/sparse_ae_mnist

reaches test reconstruction MSE 0.0038 per pixel (BCE 58.6 nats), in 21 s on the project's 2-core
CPU (docs/autoencoders.md).
"""

from jaxae.config import defaults, experiments


def get_config(variant: str = ""):
    defaults.check_variant(variant)
    config = experiments.get_config("ae_mnist", variant)
    config.model.hidden = (512,) if variant != "tiny" else config.model.hidden
    config.model.latent_dim = 1024 if variant != "tiny" else 64  # Overcomplete: wider than 784.
    config.loss.kl_sparsity_weight = 1.0
    config.loss.kl_sparsity_target = 0.05
    config.loss.l2_weight = 1e-5
    return config
