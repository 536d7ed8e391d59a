"""IDEC (Guo et al., 2017) on the embedded MNIST subset: DEC's clustering loss weighted 0.1 next to
the reconstruction (a per-pixel mean squared error, as the authors' Keras code weighs it), Adam."""

from jaxae.config import experiments


def get_config(variant: str = ""):
    config = experiments.get_config("dec_mnist", variant)
    config.dec.kl_weight = 0.1
    config.dec.reconstruction_weight = 1 / 784  # loss.reconstruction sums over the 784 pixels.
    config.cluster.optimizer.name = "adam"
    config.cluster.optimizer.learning_rate = 1e-3
    return config
