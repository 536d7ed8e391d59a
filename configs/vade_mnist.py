"""VaDE (Jiang et al., 2017) on the embedded MNIST subset: the shared pretraining, a diagonal GMM
fitted to the codes, then the ELBO with a Gaussian-mixture prior; Adam with the authors' eps of
1e-4 at 2e-4, their floor (their starting 2e-3 undid the pretraining within 16 steps here: test
ACC 0.71 -> 0.30), decaying to 0.

    python train.py --config configs/vade_mnist.py --workdir runs/vade_mnist

reaches test clustering ACC 0.671 +- 0.034 over seeds 0-4 (from the shared pretrained network), in
71 s after pretraining on the project's 2-core CPU (docs/clustering.md).
"""

import ml_collections

from jaxae.config import defaults


def get_config(variant: str = ""):
    defaults.check_variant(variant)
    config = defaults.get_clustering_config("vade")
    config.model.name = "vae"
    config.vade = ml_collections.ConfigDict({"pixel_variance": 0.05, "gmm_iterations": 100})
    config.cluster.optimizer.learning_rate = 2e-4
    config.cluster.optimizer.eps = 1e-4
    config.cluster.optimizer.schedule = "cosine"
    config.num_epochs = 100
    config.log_every = 16
    config.eval_every = 160
    config.checkpoint_every = 800
    return defaults.make_tiny_clustering(config) if variant == "tiny" else config
