"""JULE (Yang, Parikh and Batra, 2016): agglomerative clustering of the network's codes, merged a
little at a time, alternated with training the network towards the clusters found so far.

Forward pass (the phase start, then a refresh every `jule.update_interval` steps): the codes of
the whole training split give a k-nearest-neighbour graph (`jule.neighbours`); clusters merge by
graph degree linkage (`jaxae.cluster.agglomerative`). At the start AGDL's first clusters (the
nearest-neighbour components, some n/4 of them) merge down to `jule.first_clusters` and on, in
the same hook, to the first count of a geometric schedule that reaches `cluster.n_clusters` after
`jule.periods` merges (40 -> 25 at the start, 16 and 10 at the next two refreshes; the network
first trains towards 25 clusters). Clusters only ever merge: each period's partition refines the next. A
cluster smaller than `jule.small_cluster_fraction` x the mean cluster size merges first, so that
a few outliers cannot end as clusters of their own while two digits share one (on mnist_5k,
two-point clusters were left while 4 and 9 merged).

Backward pass (each step): every code is pulled towards its cluster and pushed from the others,
a softmax cross-entropy over the cosine similarities to the clusters' mean codes (per example,
so the same on any number of devices; JULE's weighted triplet loss takes its negatives from
the nearest clusters, which this softmax weighs most), plus `jule.reconstruction_weight` x the
reconstruction, which keeps the codes from collapsing onto a few directions. The network is the
clustering families' autoencoder (an MLP, or a small CNN with `model.architecture='conv'`), so
JULE can start from the same pretrained run as DCN, DEC and VaDE.

State: extra = {labels [n], means [n // 2, latent] (a row per possible cluster; the first
`num_clusters` are live), num_clusters, schedule_start (its first count), period}. A code is predicted into the
live cluster of most similar mean. No labels are read.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxae.cluster import agglomerative
from jaxae.cluster.kmeans import cluster_means
from jaxae.config import checks
from jaxae.errors import ConfigError, DataError
from jaxae.trainers.base import Phase
from jaxae.trainers.clustering.shared import ClusteringTrainer


def normalize(x, eps: float = 1e-8):
    """Rows of x [..., d] scaled to unit length (zero rows stay zero; gradients stay finite there)."""
    return x * jax.lax.rsqrt(jnp.maximum(jnp.sum(x * x, axis=-1, keepdims=True), eps * eps))


def schedule(initial: int, final: int, periods: int, period: int) -> int:
    """The number of clusters after `period` of `periods` merges: geometric from `initial` to `final`."""
    if period >= periods:
        return final
    return max(final, round(initial * (final / initial) ** (period / periods)))


def similarity_logits(codes, means, num_clusters, temperature: float):
    """[n, capacity] cosine similarity / temperature of codes [n, d] to the means; dead ids -inf."""
    logits = normalize(codes) @ normalize(means).T / temperature
    return jnp.where(jnp.arange(means.shape[0]) < num_clusters, logits, -jnp.inf)


def clustering_loss(codes, labels, means, num_clusters, temperature: float):
    """[n] cross-entropy of each code's own cluster under `similarity_logits`."""
    logits = similarity_logits(codes, means, num_clusters, temperature)
    own = jnp.take_along_axis(logits, labels[:, None], axis=-1)[:, 0]
    return jax.nn.logsumexp(logits, axis=-1) - own


class JULETrainer(ClusteringTrainer):
    """Recurrent agglomerative clustering of the codes alternated with training towards it."""

    @classmethod
    def validate_config(cls, config) -> None:
        super().validate_config(config)
        checks.number(config, "jule.neighbours", low=2, integer=True)
        checks.number(config, "jule.graph_scale", low=0, low_open=True)
        checks.number(config, "jule.first_clusters", low=0, integer=True)
        checks.number(config, "jule.small_cluster_fraction", low=0, high=1)
        checks.choice(config, "jule.first_graph", ("codes", "inputs"))
        checks.number(config, "jule.periods", low=1, integer=True)
        checks.number(config, "jule.update_interval", low=1, integer=True)
        checks.number(config, "jule.temperature", low=0, low_open=True)
        checks.number(config, "jule.reconstruction_weight", low=0)
        checks.number(config, "jule.max_memory_mb", low=0, low_open=True)

    def __init__(self, config, spec, num_examples: int, *, axis_name=None):
        super().__init__(config, spec, num_examples, axis_name=axis_name)
        jule = config.jule
        if num_examples <= jule.neighbours:
            raise ConfigError(f"jule.neighbours={jule.neighbours} needs more training examples than that "
                              f"({num_examples} in data.train_split={config.data.train_split!r})")
        last_merge = (jule.periods - 1) * jule.update_interval
        if last_merge >= self.cluster_steps:
            raise ConfigError(f"jule.periods={jule.periods} merges every jule.update_interval={jule.update_interval} "
                              f"steps need more than the clustering phase's {self.cluster_steps} steps; "
                              "lengthen num_epochs or shorten the schedule")
        self.capacity = num_examples // 2  # Each first cluster has two points or more.
        needed_mb = agglomerative.merge_bytes(num_examples, self.capacity) / 2**20
        if needed_mb > jule.max_memory_mb:
            raise ConfigError(f"JULE's merges on {num_examples} training examples may need {needed_mb:.0f} MiB "
                              f"(arrays of first clusters x examples), over jule.max_memory_mb={jule.max_memory_mb}; "
                              "raise it, or train on fewer examples")

    def identity(self):
        fields = (f"jule.{name}" for name in self.config.jule if name != "max_memory_mb")
        return super().identity() | self.identity_of(*fields)

    def cluster_phases(self):
        return (Phase("cluster", self.cluster_steps, self.cluster_step, on_start=self.start_clustering,
                      refresh=self.refresh_clusters, refresh_every=self.config.jule.update_interval),)

    def cluster_init(self, key, latent_dim):
        del key
        scalar = jnp.zeros((), jnp.int32)
        return {}, {"labels": jnp.zeros((self.num_examples,), jnp.int32),
                    "means": jnp.zeros((self.capacity, latent_dim), jnp.float32),
                    "num_clusters": scalar, "schedule_start": scalar, "period": scalar}

    # ------------------------------------------------------------------ forward pass: merging

    def graph(self, codes):
        """(neighbours [n, k], weights [n, k]) of the codes [n, latent]."""
        jule = self.config.jule
        neighbours, distances = agglomerative.nearest_neighbours(jnp.asarray(codes), jule.neighbours)
        return neighbours, agglomerative.graph_weights(distances, jule.graph_scale)

    def merge(self, labels, num_clusters: int, count: int, neighbours, weights):
        """[n] labels 0..count-1: clusters `labels` (ids below num_clusters) merged down to `count`."""
        capacity = agglomerative.capacity_for(num_clusters)
        return agglomerative.merge(jnp.asarray(labels), neighbours, weights, count, capacity=capacity,
                                   small_fraction=self.config.jule.small_cluster_fraction)

    def start_clustering(self, state, split):
        """Hook at the phase start: AGDL's first clusters, merged to `jule.first_clusters` and, in
        the same hook, to the schedule's first count (the network never trains on the former)."""
        codes = self.starting_codes(state, split)
        code_graph = self.graph(codes)
        first_graph = self.config.jule.first_graph
        if first_graph == "inputs":  # The images themselves, as flat vectors.
            neighbours, weights = self.graph(split.map(self.flat_inputs, state)["input"])
        else:
            neighbours, weights = code_graph
        components = agglomerative.initial_clusters(neighbours)
        num_components = int(components.max()) + 1
        if num_components < self.n_clusters:
            raise DataError(f"JULE's first clusters (nearest-neighbour components of the {first_graph}) are "
                            f"{num_components}, fewer than cluster.n_clusters={self.n_clusters}")
        first = min(num_components, max(self.config.jule.first_clusters, self.n_clusters))
        labels = self.merge(components, num_components, first, neighbours, weights)
        first_count = jnp.asarray(first, jnp.int32)
        extra = {**state.extra, "labels": labels, "num_clusters": first_count, "schedule_start": first_count}
        state, report = self.next_period(state.replace(extra=extra), codes, *code_graph)
        return state, {"components": float(num_components), **report}

    def flat_inputs(self, state, batch):
        """{'input': [batch, H * W * C]} the clean images a batch's codes are computed from."""
        targets, _ = self.ae.eval_inputs(state, batch["image"], batch["index"])
        return {"input": targets.reshape(targets.shape[0], -1)}

    def refresh_clusters(self, state, split):
        """Refresh hook: the schedule's next merges on the codes as they are now; new means."""
        codes = split.map(self.codes, state)["code"]
        if int(state.extra["period"]) >= self.config.jule.periods:  # All merged: the means follow the codes.
            means = cluster_means(jnp.asarray(codes), state.extra["labels"], self.capacity)
            return state.replace(extra={**state.extra, "means": means}), {"num_clusters": float(self.n_clusters)}
        return self.next_period(state, codes, *self.graph(codes))

    def next_period(self, state, codes, neighbours, weights):
        """The clusters merged to the schedule's next count, and their mean codes."""
        extra = state.extra
        period = int(extra["period"]) + 1
        count = schedule(int(extra["schedule_start"]), self.n_clusters, self.config.jule.periods, period)
        labels = self.merge(extra["labels"], int(extra["num_clusters"]), count, neighbours, weights)
        extra = {**extra, "labels": labels, "means": cluster_means(jnp.asarray(codes), labels, self.capacity),
                 "num_clusters": jnp.asarray(count, jnp.int32), "period": jnp.asarray(period, jnp.int32)}
        return state.replace(extra=extra), {"num_clusters": float(count)}

    # ------------------------------------------------------------------ backward pass: the network

    def cluster_step(self, state, batch):
        """Cross-entropy of each code's cluster (plus the weighted reconstruction), one optimizer step."""
        jule = self.config.jule
        labels = state.extra["labels"][batch["index"]]
        targets, inputs, _ = self.cluster_inputs(state, batch["image"])

        def loss_fn(params):
            reconstruction, aux = self.ae.apply(params["autoencoder"], inputs, train=True)
            cluster = jnp.mean(clustering_loss(aux["z"], labels, state.extra["means"], state.extra["num_clusters"],
                                               jule.temperature))
            recon = jnp.mean(self.ae.reconstruction_nll(reconstruction, aux, targets))
            loss = cluster + jule.reconstruction_weight * recon
            return loss, ({"loss": loss, "cluster": cluster, "recon": recon}, None)

        state, metrics, _ = self.update(state, loss_fn)
        return state, metrics

    # ------------------------------------------------------------------ prediction

    def clustered(self, state):
        """Clusters are scored once the schedule is down to n_clusters (not while hundreds are left)."""
        return super().clustered(state) & (state.extra["num_clusters"] == self.n_clusters)

    def centroids(self, state):
        return state.extra["means"][: self.n_clusters]

    def predict(self, state, codes):
        """codes [n, latent] -> [n] int32: the cluster of most similar mean (cosine)."""
        logits = similarity_logits(codes, state.extra["means"], state.extra["num_clusters"], 1.0)
        return jnp.argmax(logits, axis=-1).astype(jnp.int32)
