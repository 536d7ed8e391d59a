"""JULE (Yang et al., 2016) on the embedded MNIST subset: the shared pretrained autoencoder, then
agglomerative clustering of its codes merged over `jule.periods` refreshes while the network is
trained towards the clusters found so far."""

import ml_collections

from configs import common


def get_config(variant: str = ""):
    common.check_variant(variant)
    config = common.get_clustering_config("jule")
    config.jule = ml_collections.ConfigDict({"neighbours": 20, "graph_scale": 1.0, "first_graph": "codes", "first_clusters": 40,
                                             "periods": 3,
                                             "small_cluster_fraction": 0.25,
                                             "update_interval": 32, "temperature": 0.1,
                                             "reconstruction_weight": 1 / 784})
    config.cluster.optimizer.learning_rate = 1e-4
    config.num_epochs = 40
    config.log_every = 16
    config.eval_every = 160
    config.checkpoint_every = 800
    if variant == "tiny":
        common.make_tiny_clustering(config)
        config.jule.neighbours = 5
        config.jule.periods = 3
        config.jule.update_interval = 4
    return config
