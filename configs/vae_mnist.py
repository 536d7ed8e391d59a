"""The default: an MLP VAE (784-512-256-20 and back) on the embedded MNIST subset."""

from configs import common


def get_config(variant: str = ""):
    config = common.get_base_config()
    config.model.name = "vae"
    config.num_epochs = 40
    config.eval_every = 310  # 10 epochs of 31 steps.
    config.log_every = 31
    config.checkpoint_every = 310
    return common.make_tiny(config) if variant == "tiny" else config
