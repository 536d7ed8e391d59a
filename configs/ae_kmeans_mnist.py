"""Autoencoder + K-means on the embedded MNIST subset: the baseline of the clustering table, and the
pretrained network the other clustering configs start from with --config.cluster.init_from.

    python train.py --config configs/ae_kmeans_mnist.py --workdir runs/ae_kmeans_mnist

reaches test clustering ACC 0.698 +- 0.036 over seeds 0-4, in 156 s on the project's 2-core CPU
(docs/clustering.md).
"""

from jaxae.config import defaults


def get_config(variant: str = ""):
    defaults.check_variant(variant)
    config = defaults.get_clustering_config("ae_kmeans")
    config.num_steps = 1  # No update after pretraining: the clustering phase is its start hook alone.
    config.log_every = 16
    config.checkpoint_every = 800
    return defaults.make_tiny_clustering(config) if variant == "tiny" else config
