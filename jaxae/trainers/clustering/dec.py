"""DEC (Xie et al., 2016) and IDEC (Guo et al., 2017): Student-t soft assignments sharpened
towards a target distribution that is refreshed from the whole training split.

q_ij = (1 + ||z_i - mu_j||^2 / alpha)^(-(alpha + 1) / 2), normalised over clusters j;
p_ij = (q_ij^2 / f_j) normalised over j, with f_j = sum_i q_ij over the whole training split.
Loss per example: kl_weight * KL(p_i || q_i) + reconstruction_weight * reconstruction. DEC is
(1, 0): the decoder is not trained. IDEC is (0.1, 1): the reconstruction keeps the codes'
local structure. The centroids mu are trainable parameters, initialised by K-means.

The targets p [n, k] live in the state (looked up by each example's index) and are recomputed
every `dec.update_interval` steps; when fewer than `dec.tolerance` of the training examples
changed cluster since the last refresh, training has converged and later steps change nothing
(they are recorded as skipped), as in the authors' code. Neither uses labels.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxae.cluster import kmeans
from jaxae.config import checks
from jaxae.trainers.base import Phase
from jaxae.trainers.clustering.shared import ClusteringTrainer


def soft_assignments(codes, centroids, alpha: float = 1.0):
    """Student-t kernel q [n, k] between codes [n, d] and centroids [k, d], rows summing to one.

    Computed from logs so that far-away codes keep a finite, normalised row.
    """
    logits = -(alpha + 1.0) / 2.0 * jnp.log1p(kmeans.squared_distances(codes, centroids) / alpha)
    return jax.nn.softmax(logits, axis=-1)


def target_distribution(q):
    """DEC's auxiliary targets p [n, k] from soft assignments q [n, k] of the whole split."""
    weight = q**2 / jnp.sum(q, axis=0)
    return weight / jnp.sum(weight, axis=-1, keepdims=True)


def kl_divergence(p, q, eps: float = 1e-12):
    """KL(p_i || q_i) per row [n] of two [n, k] distributions (0 log 0 taken as 0)."""
    return jnp.sum(jnp.where(p > 0, p * (jnp.log(jnp.maximum(p, eps)) - jnp.log(jnp.maximum(q, eps))), 0.0), -1)


@jax.jit
def _refresh(codes, centroids, alpha, previous):
    q = soft_assignments(codes, centroids, alpha)
    assignments = jnp.argmax(q, axis=-1).astype(jnp.int32)
    return target_distribution(q), assignments, jnp.mean(assignments != previous)


class DECTrainer(ClusteringTrainer):
    """DEC, or IDEC when `dec.reconstruction_weight` > 0."""

    @classmethod
    def validate_config(cls, config) -> None:
        super().validate_config(config)
        checks.number(config, "dec.alpha", low=0, low_open=True)
        checks.number(config, "dec.kl_weight", low=0)
        checks.number(config, "dec.reconstruction_weight", low=0)
        checks.number(config, "dec.update_interval", low=1, integer=True)
        checks.number(config, "dec.tolerance", low=0, high=1)

    def identity(self):
        return super().identity() | self.identity_of("dec.alpha", "dec.kl_weight", "dec.reconstruction_weight",
                                                     "dec.update_interval")

    def cluster_phases(self):
        return (Phase("cluster", self.cluster_steps, self.cluster_step, on_start=self.start_clustering,
                      refresh=self.refresh_targets, refresh_every=self.config.dec.update_interval),)

    def cluster_init(self, key, latent_dim):
        del key
        n, k = self.num_examples, self.n_clusters
        return ({"centroids": jnp.zeros((k, latent_dim), jnp.float32)},
                {"targets": jnp.full((n, k), 1.0 / k, jnp.float32), "assignments": jnp.zeros((n,), jnp.int32),
                 "converged": jnp.zeros((), jnp.bool_)})

    def centroids(self, state):
        return state.params["centroids"]

    def begin(self, state, codes, found):
        state = state.replace(params={**state.params, "centroids": jnp.asarray(found.centroids)})
        return self._with_targets(state, codes, np.asarray(found.assignments), first=True)

    def refresh_targets(self, state, split):
        """Refresh hook: new targets from the codes of the whole training split, and the stopping test."""
        if bool(state.extra["converged"]):  # Nothing trains any more: the targets stay as they are.
            return state, {"converged": 1.0}
        return self._with_targets(state, split.map(self.codes, state)["code"], np.asarray(state.extra["assignments"]))

    def _with_targets(self, state, codes, previous, *, first: bool = False):
        targets, assignments, changed = _refresh(codes, self.centroids(state), self.config.dec.alpha, previous)
        converged = bool(state.extra["converged"]) or (not first and float(changed) < self.config.dec.tolerance)
        extra = {"targets": targets, "assignments": assignments, "converged": jnp.asarray(converged)}
        return state.replace(extra=extra), {"label_change": float(changed), "converged": float(converged)}

    def cluster_step(self, state, batch):
        """KL to the batch's targets (plus reconstruction for IDEC); nothing once converged."""
        dec = self.config.dec
        targets_p = state.extra["targets"][batch["index"]]

        def train(state):
            targets, inputs, _ = self.cluster_inputs(state, batch["image"])

            def loss_fn(params):
                if dec.reconstruction_weight:
                    reconstruction, aux = self.ae.apply(params["autoencoder"], inputs, train=True)
                    codes = aux["z"]
                else:  # DEC: the decoder is not trained, so not run.
                    codes = self.ae.model.apply({"params": params["autoencoder"]}, inputs, method="encode")
                q = soft_assignments(codes, params["centroids"], dec.alpha)
                kl = jnp.mean(kl_divergence(targets_p, q))
                metrics, loss = {"kl": kl}, dec.kl_weight * kl
                if dec.reconstruction_weight:
                    metrics["recon"] = jnp.mean(self.ae.reconstruction_nll(reconstruction, aux, targets))
                    loss = loss + dec.reconstruction_weight * metrics["recon"]
                return loss, ({**metrics, "loss": loss}, None)

            state, metrics, _ = self.update(state, loss_fn)
            return state, {**metrics, "skipped": metrics.get("skipped", jnp.zeros((), jnp.float32))}

        def converged(state):
            shapes = jax.eval_shape(train, state)[1]
            metrics = {name: jnp.zeros(shape.shape, shape.dtype) for name, shape in shapes.items()}
            return state.replace(step=state.step + 1), {**metrics, "skipped": jnp.ones((), jnp.float32)}

        return jax.lax.cond(state.extra["converged"], converged, train, state)
