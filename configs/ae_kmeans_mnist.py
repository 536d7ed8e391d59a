"""Autoencoder + K-means on the embedded MNIST subset: the baseline of the clustering table, and the
pretrained network the other clustering configs start from with --config.cluster.init_from."""

from configs import common


def get_config(variant: str = ""):
    common.check_variant(variant)
    config = common.get_clustering_config("ae_kmeans")
    config.num_steps = 1
    config.log_every = 16
    config.checkpoint_every = 800
    return common.make_tiny_clustering(config) if variant == "tiny" else config
