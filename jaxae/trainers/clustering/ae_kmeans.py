"""The autoencoder + K-means baseline: pretrain an autoencoder, then K-means on its codes, once.

Its clustering phase is a start hook alone, of 0 steps (K-means on the whole training split,
shared with every clustering family), due where pretraining ends. A run of
this family is also the pretrained network that DCN, DEC, IDEC, JULE, N2D (and VaDE) start from
with ``--config.cluster.init_from=<its workdir>``.
"""

from __future__ import annotations

import jax.numpy as jnp

from jaxae.trainers.base import Phase
from jaxae.trainers.clustering.shared import ClusteringTrainer


class AEKMeansTrainer(ClusteringTrainer):
    """Autoencoder, then K-means on the codes; predictions by the nearest K-means centroid."""

    def cluster_phases(self):
        return (Phase("kmeans", 0, None, on_start=self.start_clustering),)  # K-means alone.

    def cluster_init(self, key, latent_dim):
        del key
        return {}, {"centroids": jnp.zeros((self.n_clusters, latent_dim), jnp.float32)}

    def begin(self, state, codes, found):
        return state.replace(extra={"centroids": jnp.asarray(found.centroids)}), {}

    def centroids(self, state):
        return state.extra["centroids"]
