"""The adversarial autoencoder for unsupervised clustering (Makhzani et al., 2016, section 6) on the
embedded MNIST subset: the encoder's softmax over 16 clusters is matched to a uniform categorical
and a 5-D style code to N(0, I), each by its own discriminator; argmax of the softmax clusters the
digits. The paper reaches 9.55 % error (purity) with 16 clusters on the full MNIST.

    python train.py --config configs/aae_cluster_mnist.py --workdir runs/aae_cluster_mnist

reaches test clustering ACC 0.394 +- 0.058 over 3 seeds (16 clusters), in 67 s on the project's
2-core CPU (docs/adversarial.md).
"""

from jaxae.config import defaults


def get_config(variant: str = ""):
    defaults.check_variant(variant)
    config = defaults.get_aae_config()
    config.model.n_clusters = 16
    config.model.latent_dim = 5
    config.num_epochs = 30  # The 1000-1000 autoencoder overfits 4,000 digits: test BCE rose from 105 after 30 epochs.
    config.log_every = 40
    config.eval_every = 80
    config.checkpoint_every = 400
    config.num_image_examples = 10
    if variant == "tiny":
        defaults.make_tiny_aae(config)
        config.model.n_clusters = 10
    return config
