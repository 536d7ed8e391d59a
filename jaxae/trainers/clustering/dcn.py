"""DCN (Yang et al., 2017): reconstruction plus a K-means term, with online centroid updates.

Loss per example: reconstruction + (lambda / 2) ||f(x) - M s||^2, where s picks the centroid
nearest to the code f(x). Each step assigns the batch's codes (before the update), takes a
gradient step on the network with the centroids fixed, and moves every centroid to the running
mean of what it was given so far:

  m_k <- (c_k m_k + sum of the batch's codes in k) / (c_k + n_k),   c_k <- c_k + n_k

which is exactly the paper's per-example update m_k <- m_k - (1/c_k)(m_k - f(x_i)) applied to
the batch's examples one after another (a running mean does not depend on their order). The
counts start at `dcn.initial_count` (100 in the authors' code) so the first batches move the
K-means centroids only a little. Sums over the batch are taken across devices.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxae.cluster import kmeans
from jaxae.config import checks
from jaxae.devices import parallel
from jaxae.trainers.clustering.shared import ClusteringTrainer


def kmeans_term(codes, centroids, assignments):
    """||codes - centroids[assignments]||^2 per example. codes [b, d], centroids [k, d] -> [b]."""
    return jnp.sum((codes - centroids[assignments]) ** 2, axis=-1)


def centroid_update(centroids, counts, batch_counts, batch_sums):
    """Running-mean update. centroids [k, d], counts [k]; the batch's members per cluster [k] and
    their summed codes [k, d] -> (new centroids, new counts). A cluster with no member keeps its centre."""
    new_counts = counts + batch_counts
    moved = (counts[:, None] * centroids + batch_sums) / jnp.maximum(new_counts, 1e-12)[:, None]
    return jnp.where(batch_counts[:, None] > 0, moved, centroids), new_counts


class DCNTrainer(ClusteringTrainer):
    """Deep Clustering Network: an autoencoder trained jointly with K-means on its codes."""

    @classmethod
    def validate_config(cls, config) -> None:
        super().validate_config(config)
        checks.number(config, "dcn.lambda_", low=0)
        checks.number(config, "dcn.initial_count", low=0)

    def identity(self):
        return super().identity() | self.identity_of("dcn.lambda_")

    def cluster_init(self, key, latent_dim):
        del key
        return {}, {"centroids": jnp.zeros((self.n_clusters, latent_dim), jnp.float32),
                    "counts": jnp.zeros((self.n_clusters,), jnp.float32)}

    def begin(self, state, codes, found):
        extra = {"centroids": jnp.asarray(found.centroids),
                 "counts": jnp.full((self.n_clusters,), float(self.config.dcn.initial_count), jnp.float32)}
        return state.replace(extra=extra), {}

    def centroids(self, state):
        return state.extra["centroids"]

    def cluster_step(self, state, batch):
        """Network step on reconstruction + (lambda/2) K-means term, then the centroids' update."""
        targets, inputs, _ = self.cluster_inputs(state, batch["image"])
        centroids, lambda_ = state.extra["centroids"], self.config.dcn.lambda_

        def loss_fn(params):
            reconstruction, aux = self.ae.apply(params["autoencoder"], inputs, train=True)
            codes = aux["z"]
            assignments = kmeans.assign(jax.lax.stop_gradient(codes), centroids)
            recon = self.ae.reconstruction_nll(reconstruction, aux, targets)
            cluster = kmeans_term(codes, centroids, assignments)
            loss = jnp.mean(recon + 0.5 * lambda_ * cluster)
            return loss, ({"loss": loss, "recon": jnp.mean(recon), "kmeans": jnp.mean(cluster)},
                          (jax.lax.stop_gradient(codes), assignments))

        state, metrics, (codes, assignments) = self.update(state, loss_fn)
        members = jax.nn.one_hot(assignments, self.n_clusters, dtype=jnp.float32)  # [b, k]
        # Global-batch counts and sums (means times the global batch size), alike on any number of devices.
        size = self.config.batch_size
        batch_counts = size * parallel.batch_mean(members, self.axis_name)
        batch_sums = size * parallel.batch_mean(members[:, :, None] * codes[:, None, :], self.axis_name)
        new_centroids, counts = centroid_update(centroids, state.extra["counts"], batch_counts, batch_sums)
        return state.replace(extra={"centroids": new_centroids, "counts": counts}), metrics
