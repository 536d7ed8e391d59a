"""A test-only family on the Trainer contract, shaped like deep clustering: integer inputs, two
phases, a hook at the second phase's start and a refresh, both computed from the whole training
split, centroids outside the gradient, and an eval whose sums are a contingency matrix.

Data: 'token' ids in [0, VOCAB); 'label' = token % CLASSES (eval only).
Phase 'embed': fit an embedding table E [VOCAB, DIM] to a fixed target per token (plain SGD).
Phase 'cluster': the start hook sets K centroids to the mean code of the examples whose split index
is congruent to each centroid's number mod K; the refresh recomputes them every REFRESH steps; the
step pulls each code towards its nearest centroid and counts the batch's assignments across devices.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxae.config import defaults
from jaxae.data.sources import ArraySource
from jaxae.devices import parallel
from jaxae.steps.train_state import TrainState
from jaxae.trainers import Phase, Trainer, register

VOCAB, CLASSES, DIM, K, REFRESH = 12, 3, 4, 3, 4


def config(embed_steps=10, cluster_steps=10):
    config = defaults.get_base_config()
    config.trainer = "toy"
    config.toy = ml_collections.ConfigDict({"embed_steps": embed_steps, "cluster_steps": cluster_steps,
                                            "learning_rate": 0.5, "width": DIM})
    config.batch_size, config.eval_batch_size = 16, 16
    config.log_every, config.checkpoint_every, config.eval_every = 2, 4, 6
    config.keep_checkpoints = 100
    config.num_image_examples = 0
    return config


def data(n=96, seed=0):
    tokens = np.random.default_rng(seed).integers(0, VOCAB, n)
    train = ArraySource({"token": tokens}, kinds={"token": "ids"}, vocab_sizes={"token": VOCAB}, name="toy train")
    evaluate = ArraySource({"token": tokens[:40], "label": tokens[:40] % CLASSES}, kinds={"token": "ids"},
                           vocab_sizes={"token": VOCAB, "label": CLASSES}, name="toy eval")
    return train, evaluate


class ToyTrainer(Trainer):
    guarded_metrics = ("loss",)

    @classmethod
    def validate_config(cls, config):
        pass

    @classmethod
    def train_fields(cls, config):
        return {"token": "ids"}

    @classmethod
    def eval_fields(cls, config):
        return {"token": "ids", "label": "label"}

    def __init__(self, config, spec, num_examples, *, axis_name=None):
        super().__init__(config, spec, num_examples, axis_name=axis_name)
        self.tx = optax.sgd(config.toy.learning_rate)
        self.width = config.toy.width
        self.targets = jnp.asarray(np.random.default_rng(1).normal(size=(VOCAB, self.width)), jnp.float32)

    def identity(self):
        # The width is left out on purpose: the layout check must still refuse another width.
        return self.identity_of("toy.embed_steps", "toy.cluster_steps")

    def phases(self):
        toy = self.config.toy
        return (Phase("embed", toy.embed_steps, self.embed_step),
                Phase("cluster", toy.cluster_steps, self.cluster_step, on_start=self.set_centroids,
                      refresh=self.set_centroids, refresh_every=REFRESH))

    def init(self, key):
        table = 0.1 * jax.random.normal(key, (VOCAB, self.width))
        params = {"embed": table}
        return TrainState(step=jnp.zeros((), jnp.int32), key=key, params=params, opt_state=self.tx.init(params),
                          extra={"centroids": jnp.zeros((K, self.width)), "counts": jnp.zeros((K,))})

    def _update(self, state, loss_fn, batch):
        (loss, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params, batch)
        if self.axis_name is not None:
            grads, metrics = jax.lax.pmean((grads, metrics), self.axis_name)
        updates, opt_state = self.tx.update(grads, state.opt_state, state.params)
        return state.replace(step=state.step + 1, params=optax.apply_updates(state.params, updates),
                             opt_state=opt_state), metrics

    def embed_step(self, state, batch):
        def loss_fn(params, batch):
            codes = params["embed"][batch["token"]]
            loss = jnp.mean(jnp.sum((codes - self.targets[batch["token"]]) ** 2, axis=-1))
            return loss, {"loss": loss}

        return self._update(state, loss_fn, batch)

    def cluster_step(self, state, batch):
        centroids = state.extra["centroids"]

        def distances(params):
            codes = params["embed"][batch["token"]]
            return jnp.sum((codes[:, None] - centroids[None]) ** 2, axis=-1)

        def loss_fn(params, batch):
            loss = jnp.mean(jnp.min(distances(params), axis=-1))
            return loss, {"loss": loss}

        # A batch statistic: the fraction of the global batch nearest to each centroid.
        assigned = jax.nn.one_hot(jnp.argmin(distances(state.params), -1), K)
        counts = state.extra["counts"] + parallel.batch_mean(assigned, self.axis_name)
        state, metrics = self._update(state, loss_fn, batch)
        return state.replace(extra={**state.extra, "counts": counts}), metrics

    def codes(self, state, batch):
        return {"code": state.params["embed"][batch["token"]], "index": batch["index"]}

    def set_centroids(self, state, split):
        codes = split.map(self.codes, state)
        assert np.array_equal(codes["index"], np.arange(len(split)))  # Every example once, in order.
        groups = codes["index"] % K
        centroids = np.stack([codes["code"][groups == c].mean(axis=0) for c in range(K)])
        return state.replace(extra={**state.extra, "centroids": centroids}), {"spread": float(centroids.std())}

    def eval_step(self, state, batch, mask):
        codes = state.params["embed"][batch["token"]]
        distances = jnp.sum((codes[:, None] - state.extra["centroids"][None]) ** 2, axis=-1)
        assigned = jax.nn.one_hot(jnp.argmin(distances, -1), K) * mask[:, None]
        return {"contingency": jax.nn.one_hot(batch["label"], CLASSES).T @ assigned}

    def eval_report(self, sums):
        table = sums["contingency"]
        return {"purity": table.max(axis=0).sum() / table.sum(), "count": table.sum()}


register("toy", ToyTrainer)
