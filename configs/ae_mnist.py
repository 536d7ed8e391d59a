"""A plain MLP autoencoder (784-512-256-32 and back) on the embedded MNIST subset."""

from configs import common


def get_config(variant: str = ""):
    common.check_variant(variant)
    config = common.get_base_config()
    config.model.name = "ae"
    config.model.latent_dim = 32
    config.data.binarize = "none"
    config.num_epochs = 50
    config.eval_every = 310
    config.log_every = 31
    config.checkpoint_every = 310
    return common.make_tiny(config) if variant == "tiny" else config
