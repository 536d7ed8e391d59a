"""JULE (Yang et al., 2016) on the embedded MNIST subset: the shared pretrained autoencoder, then
agglomerative clustering of its codes merged over `jule.periods` refreshes while the network is
trained towards the clusters found so far.

On mnist_5k (seeds 0-4, test ACC) the codes' graph beat the images' (0.84 against 0.76-0.81 on
seed 0) and plain AGDL beat absorbing small clusters first (0.837 +- 0.008 against 0.793 +-
0.004). On the 8x8 digits the images' graph and the small-cluster rule were better:
--config.jule.first_graph=inputs --config.jule.small_cluster_fraction=0.25 (see docs/clustering.md).

    python train.py --config configs/jule_mnist.py --workdir runs/jule_mnist

reaches test clustering ACC 0.837 +- 0.008 over seeds 0-4, in 42 s after pretraining on the
project's 2-core CPU (docs/clustering.md).
"""

import ml_collections

from jaxae.config import defaults


def get_config(variant: str = ""):
    defaults.check_variant(variant)
    config = defaults.get_clustering_config("jule")
    config.jule = ml_collections.ConfigDict({
        "first_graph": "codes",  # codes | inputs: the graph of the first clusters.
        "neighbours": 20,  # k of the k-nearest-neighbour graph (JULE's K_s).
        "graph_scale": 1.0,  # sigma^2 of the graph's weights, in mean squared neighbour distances.
        "first_clusters": 40,  # the first clusters merge to this many at the phase start ...
        "periods": 3,  # ... then to n_clusters in this many merges: 25 at the start, 16 and 10 at refreshes.
        "update_interval": 32,  # steps between refreshes: about 2 epochs of mnist_5k (15 steps each).
        "small_cluster_fraction": 0.0,  # > 0: clusters under this x the mean size merge first.
        "temperature": 0.1,  # of the softmax over cosine similarities.
        "reconstruction_weight": 1 / 784,  # per-pixel mean squared error, as IDEC weighs it.
        "max_memory_mb": 8192,  # refuse a training split whose merges could need more (n = 4,000: 126 MiB).
    })
    config.cluster.optimizer.learning_rate = 1e-4
    config.num_epochs = 40
    config.log_every = 16
    config.eval_every = 160
    config.checkpoint_every = 800
    if variant == "tiny":
        defaults.make_tiny_clustering(config)
        config.jule.neighbours = 5
        config.jule.update_interval = 4
    return config
