"""N2D (McConville et al., 2020): the pretrained autoencoder's codes clustered on their local
manifold (UMAP, then a Gaussian mixture); of `n2d.embeddings` UMAP seeds, the partition that
agrees best with the others is kept.

The network is not trained after pretraining (N2D's point: a shallow clustering of a learned
manifold). The clustering phase is its start hook alone, of 0 steps: it encodes the whole
training split, partitions it once per embedding (`jaxae.cluster.manifold`) and keeps the training
codes and their clusters, which is what predicts a new image: the majority cluster of its
`n2d.vote_neighbours` nearest training codes. Each embedding's seed comes from the run's key, so a
run (and a resume on as many devices) repeats its clusters, and `num_seeds` gives each seed its own
embeddings. (UMAP is chaotic in its input: codes that differ in the 7th digit, as on another number
of devices, embed differently.) K-means is not run: `cluster.kmeans_*` are unused. No labels are
read. The phase start records `n2d/agreement` (the kept partition's mean adjusted Rand index with
the others), `n2d/embedding` (its index) and `n2d/smallest_cluster`.

State: extra = {codes [n, latent], labels [n] (the training examples' clusters), centroids
[n_clusters, latent] (each cluster's mean code, which the pictures decode)}.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxae.cluster import manifold
from jaxae.cluster.kmeans import cluster_means
from jaxae.config import checks
from jaxae.errors import ConfigError
from jaxae.trainers.base import Phase
from jaxae.trainers.clustering.shared import ClusteringTrainer

SEED_STREAM = 2**32 - 5  # Folded into the run's key for the embeddings' seeds: beyond any step.


def embedding_seeds(key, count: int) -> list[int]:
    """`count` UMAP (and mixture) seeds, one per embedding, drawn from the run's key."""
    seeds = jax.random.randint(jax.random.fold_in(key, SEED_STREAM), (count,), 0, 2**31 - 1)
    return [int(seed) for seed in np.asarray(seeds)]


class N2DTrainer(ClusteringTrainer):
    """Pretrained codes -> UMAP + mixture partitions, the most agreed kept; nearest-neighbour predictions."""

    @classmethod
    def validate_config(cls, config) -> None:
        super().validate_config(config)
        checks.number(config, "n2d.embeddings", low=1, integer=True)
        checks.number(config, "n2d.umap_neighbours", low=2, integer=True)
        checks.number(config, "n2d.umap_min_dist", low=0, high=1)  # UMAP refuses more than its spread, 1.
        checks.number(config, "n2d.umap_epochs", low=0, integer=True)
        checks.number(config, "n2d.mixture_restarts", low=1, integer=True)
        checks.number(config, "n2d.vote_neighbours", low=1, integer=True)
        if config.n2d.embeddings == 2:
            raise ConfigError("n2d.embeddings=2: two partitions always agree with each other equally, so the "
                              "first would always be kept; use 1 (N2D as published) or 3 or more")

    def __init__(self, config, spec, num_examples: int, *, axis_name=None):
        super().__init__(config, spec, num_examples, axis_name=axis_name)
        n2d = config.n2d
        smallest = max(n2d.umap_neighbours, n2d.vote_neighbours, self.n_clusters)
        if num_examples <= smallest:
            raise ConfigError(f"N2D needs more training examples than n2d.umap_neighbours, n2d.vote_neighbours "
                              f"and cluster.n_clusters ({smallest}); data.train_split={config.data.train_split!r} "
                              f"has {num_examples}")

    def identity(self):
        fields = (f"n2d.{name}" for name in self.config.n2d if name != "vote_neighbours")  # That one only predicts.
        return super().identity() | self.identity_of(*fields)

    def cluster_phases(self):
        return (Phase("n2d", 0, None, on_start=self.start_clustering),)  # The embeddings alone.

    def cluster_init(self, key, latent_dim):
        del key
        return {}, {"codes": jnp.zeros((self.num_examples, latent_dim), jnp.float32),
                    "labels": jnp.zeros((self.num_examples,), jnp.int32),
                    "centroids": jnp.zeros((self.n_clusters, latent_dim), jnp.float32)}

    def start_clustering(self, state, split):
        """Hook at the phase start: the codes of the whole training split, partitioned by each
        embedding; the partition that agrees best with the others, and each cluster's mean code."""
        codes = self.starting_codes(state, split)
        n2d = self.config.n2d
        partitions = np.stack([manifold.partition(codes, self.n_clusters, neighbours=n2d.umap_neighbours,
                                                  min_dist=n2d.umap_min_dist, epochs=n2d.umap_epochs,
                                                  restarts=n2d.mixture_restarts, seed=seed)
                               for seed in embedding_seeds(state.key, n2d.embeddings)])
        chosen, agreement = manifold.most_agreed(partitions, self.n_clusters)
        codes = jnp.asarray(codes, jnp.float32)
        labels = jnp.asarray(partitions[chosen], jnp.int32)
        extra = {"codes": codes, "labels": labels, "centroids": cluster_means(codes, labels, self.n_clusters)}
        sizes = np.bincount(partitions[chosen], minlength=self.n_clusters)
        return state.replace(extra=extra), {"embedding": float(chosen), "agreement": agreement,
                                            "smallest_cluster": float(sizes.min())}

    def centroids(self, state):
        """[n_clusters, latent] each cluster's mean training code."""
        return state.extra["centroids"]

    def predict(self, state, codes):
        """codes [b, latent] -> [b] int32: the majority cluster of their nearest training codes."""
        return manifold.vote(codes, state.extra["codes"], state.extra["labels"], self.n_clusters,
                             self.config.n2d.vote_neighbours)
