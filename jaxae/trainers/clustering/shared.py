"""What the deep-clustering families share: pretrain an autoencoder (or take one from `init_from`),
K-means on the codes of the whole training split, then the family's clustering phase; ACC, NMI
and ARI from a label x cluster contingency matrix at every eval.

A family (AE + K-means, DCN, DEC/IDEC, VaDE, JULE, N2D) subclasses `ClusteringTrainer` and supplies
the clustering phase's state (`cluster_init`), what K-means starts it with (`begin`), its step, and
how a code picks its cluster (`centroids`). JULE and N2D replace the K-means start hook by their own
(agglomerative merges; UMAP embeddings and mixtures), from the same `starting_codes`. The state is
one layout for the whole run:

  params:    {'autoencoder': the autoencoder's parameters, ...the family's trainable parts}
  opt_state: {'pretrain': for params['autoencoder'], 'cluster': for all of params}
  extra:     the family's non-gradient state (centroids and counts, target distributions, ...)

Labels are read by the eval only; training and every choice a run makes (the K-means restart of
least inertia, the last checkpoint) use no labels.
"""

from __future__ import annotations

import json
import os

import jax
import jax.numpy as jnp
import numpy as np

from jaxae import losses
from jaxae.cluster import kmeans
from jaxae.config import checks
from jaxae.errors import ConfigError
from jaxae.metrics import clustering as metrics
from jaxae.metrics.means import masked_sums, means
from jaxae.models import architecture_fields
from jaxae.runs.checkpoint import layout
from jaxae.steps import optimizers
from jaxae.steps.train_state import TrainState
from jaxae.trainers.base import Phase, Trainer
from jaxae.trainers.parts.autoencoder import AutoencoderCore

KMEANS_STREAM = 2**32 - 3  # Folded into the run's key for the K-means seeding: beyond any step.


class ClusteringTrainer(Trainer):
    """Pretraining, K-means initialisation and clustering metrics; subclasses add the clustering step.
    `ae` is the autoencoder core whose codes are clustered."""

    early_stopping_refused = ("its evals score the clusters only once the clustering phase has begun, so a best state "
                              "could be one that never clustered; stop the pretraining run (trainer='autoencoder') "
                              "early instead and start from it with cluster.init_from")

    guarded_metrics = ("loss", "grad_norm")
    model_name = "ae"  # The autoencoder whose codes the family clusters ('vae' for VaDE).

    @classmethod
    def validate_config(cls, config) -> None:
        AutoencoderCore.refuse_importance_weighting(config)
        super().validate_config(config)  # The clustering phase's length.
        AutoencoderCore.validate_config(config)
        if config.model.name != cls.model_name:
            raise ConfigError(f"model.name={config.model.name!r}: trainer={config.trainer!r} clusters the codes of "
                              f"model.name={cls.model_name!r}; set that")
        if config.compute_dtype == "float16":
            raise ConfigError("compute_dtype='float16' (loss scaling) is not offered for clustering; use 'bfloat16' "
                              "or 'float32'")
        checks.number(config, "pretrain.num_epochs", low=0, integer=True)
        checks.number(config, "pretrain.num_steps", low=0, integer=True)
        checks.number(config, "cluster.n_clusters", low=2, integer=True)
        checks.number(config, "cluster.kmeans_restarts", low=1, integer=True)
        checks.number(config, "cluster.kmeans_iterations", low=1, integer=True)
        checks.text(config, "cluster.init_from", allow_empty=True)
        checks.boolean(config, "cluster.augment")
        checks.boolean(config, "cluster.eval_labels")
        optimizers.validate(config, "cluster.optimizer")
        if config.cluster.init_from:
            check_pretrained_run(config)

    @classmethod
    def train_fields(cls, config) -> dict[str, str]:
        return {"image": "image"}

    @classmethod
    def eval_fields(cls, config) -> dict[str, str]:
        return {"image": "image"}

    @classmethod
    def optional_eval_fields(cls, config) -> dict[str, str]:
        """Labels to score the clusters against, where the eval split has them, unless `cluster.eval_labels` is False."""
        return {"label": "label"} if config.cluster.eval_labels else {}

    def __init__(self, config, spec, num_examples: int, *, axis_name=None):
        super().__init__(config, spec, num_examples, axis_name=axis_name)
        self.n_clusters = config.cluster.n_clusters
        self.label_rows = metrics.contingency_rows(self.n_clusters, spec.get("label"))
        self.ae = AutoencoderCore(config, spec["image"].shape, optimizer_steps=self.pretrain_steps, axis_name=axis_name)
        self.cluster_tx = optimizers.build_optimizer(config.cluster.optimizer, self.cluster_steps)

    def check_data(self, source) -> None:
        self.ae.check_data(source)

    def label_classes(self):
        return self.label_rows, (f"the label x cluster contingency matrix ({self.label_rows} rows: "
                                  f"cluster.n_clusters={self.n_clusters} or the data's class count)")

    def identity(self):
        fields = [f"model.{name}" for name in architecture_fields(self.config.model)]
        fields += ["loss.reconstruction", "noise.kind", "data.binarize", "compute_dtype", "cluster.n_clusters",
                   "cluster.init_from"]
        if self.config.noise.kind != "none":
            fields.append("noise.level")
        if self.config.data.augment_shift:
            fields += ["data.augment_shift", "cluster.augment"]
        return (self.identity_of(*fields) | optimizers.identity(self.config, self.pretrain_steps)
                | optimizers.identity(self.config, self.cluster_steps, "cluster.optimizer")
                | {"pretrain_steps": self.pretrain_steps})

    @property
    def pretrain_steps(self) -> int:
        """The pretraining phase's length: 0 with `cluster.init_from` (that run stands in for it)."""
        if self.config.cluster.init_from:
            return 0
        return self.epochs_or_steps("pretrain.num_epochs", "pretrain.num_steps")

    @property
    def cluster_steps(self) -> int:
        return self.epochs_or_steps()

    def phases(self):
        return (Phase("pretrain", self.pretrain_steps, self.pretrain_step), *self.cluster_phases())

    def pretrain_step(self, state: TrainState, batch):
        """The autoencoder's step on params['autoencoder'] (VaDE trains its VAE on the mean code instead)."""
        return self.ae.pretrain_step(state, batch)

    def cluster_phases(self) -> tuple[Phase, ...]:
        """The family's phases after pretraining; the first starts with `start_clustering`."""
        return (Phase("cluster", self.cluster_steps, self.cluster_step, on_start=self.start_clustering),)

    # ------------------------------------------------------------------ state

    def cluster_init(self, key, latent_dim: int) -> tuple[dict, dict]:
        """(the family's trainable parameters, its extra state) before K-means has run."""
        raise NotImplementedError

    def init(self, key) -> TrainState:
        model_key, cluster_key, state_key = jax.random.split(key, 3)
        autoencoder = self.ae.init_params(model_key)
        trainable, extra = self.cluster_init(cluster_key, self.config.model.latent_dim)
        params = {"autoencoder": autoencoder, **trainable}
        return TrainState(step=jnp.zeros((), jnp.int32), key=state_key, params=params,
                          opt_state={"pretrain": self.ae.tx.init(autoencoder), "cluster": self.cluster_tx.init(params)},
                          extra=extra)

    # ------------------------------------------------------------------ the clustering phase

    def cluster_step(self, state: TrainState, batch):
        raise NotImplementedError

    def cluster_inputs(self, state: TrainState, images):
        """(targets, inputs, VAE noise or None) of a clustering step: shifted as in pretraining when
        `cluster.augment`."""
        return self.ae.train_inputs(state, images, augment=self.config.cluster.augment)

    def update(self, state: TrainState, loss_fn):
        """One step of the clustering optimizer on all of params (see `gradient_step`): (state, metrics, aux)."""
        params, opt_state, metrics, aux = self.gradient_step(self.cluster_tx, state.params, state.opt_state["cluster"],
                                                             loss_fn)
        state = state.replace(step=state.step + 1, params=params, opt_state={**state.opt_state, "cluster": opt_state})
        return state, metrics, aux

    def codes(self, state: TrainState, batch):
        """{'code': [batch, latent]} of a batch's clean images (a map over a whole split)."""
        targets, _ = self.ae.eval_inputs(state, batch["image"], batch["index"])
        return {"code": self.ae.code_of(state.params["autoencoder"], targets)}

    def start_clustering(self, state: TrainState, split):
        """Hook at the clustering phase's start: K-means on the codes of the whole training split (of
        the pretrained autoencoder: this run's pretraining, or `cluster.init_from`'s, which `adopt`
        put in the state), then the family's `begin`."""
        codes = self.starting_codes(state, split)
        cluster = self.config.cluster
        found = kmeans.kmeans(jax.random.fold_in(state.key, KMEANS_STREAM), codes, self.n_clusters,
                              num_restarts=cluster.kmeans_restarts, max_iterations=cluster.kmeans_iterations)
        state, begun = self.begin(state, codes, found)
        return state, {"inertia": float(found.inertia), "kmeans_iterations": int(found.iterations), **begun}

    def starting_codes(self, state: TrainState, split) -> np.ndarray:
        """[n, latent] the codes of the whole split, that the clustering phase starts from."""
        return split.map(self.codes, state)["code"]

    def init_from(self) -> str | None:
        """`cluster.init_from`: an autoencoder run that stands in for the pretraining phase."""
        return self.config.cluster.init_from or None

    def adopt(self, state: TrainState, trained):
        """The state with params['autoencoder'] from the run of `cluster.init_from` (`trained`, what
        `jaxae.load` gave), checked against this model."""
        # An autoencoder run's `params` are its autoencoder's; a clustering run's too (see TrainedClustering).
        params = self.adopt_pretrained(getattr(trained, "params", None))
        expected = jax.eval_shape(lambda: self.ae.init_params(jax.random.PRNGKey(0)))
        if layout(params) != layout(expected):
            raise ConfigError(f"cluster.init_from={self.config.cluster.init_from!r} holds a model of other shapes "
                              f"than this run's (images {self.ae.image_shape}, model {dict(self.config.model)})")
        return state.replace(params={**state.params, "autoencoder": params})

    def adopt_pretrained(self, params):
        """A pretrained autoencoder's parameters as this family's model takes them (default: as they are)."""
        return params

    def begin(self, state: TrainState, codes: np.ndarray, found: kmeans.KMeansResult):
        """The state the clustering phase starts from, given K-means on the codes [n, latent]."""
        raise NotImplementedError

    # ------------------------------------------------------------------ evaluation

    def centroids(self, state: TrainState):
        """[n_clusters, latent] the centroids a code is assigned to (nearest)."""
        raise NotImplementedError

    def predict(self, state: TrainState, codes):
        """codes [n, latent] -> [n] int32 clusters."""
        return kmeans.assign(codes, self.centroids(state))

    def clustered(self, state: TrainState):
        """Whether the state holds the n_clusters clusters to score (not before the clustering phase)."""
        return state.step >= self.pretrain_steps

    def eval_step(self, state: TrainState, batch, mask):
        """The summed reconstruction error and count; the clusters' sizes and summed simplified
        silhouettes; with labels, the label x cluster contingency matrix."""
        targets, codes, reconstruction = self.ae.clean_pass(state, batch)
        sums = masked_sums({"mse": losses.mse(reconstruction, targets)}, mask)
        sums["clustering"] = self.clustered(state).astype(jnp.float32)
        clusters = self.predict(state, codes)
        sums["sizes"] = metrics.cluster_sizes(clusters, self.n_clusters, mask)
        sums["silhouette"] = jnp.sum(metrics.simplified_silhouette(codes, self.centroids(state), clusters) * mask)
        if "label" in batch:
            sums["contingency"] = metrics.contingency(batch["label"], clusters, self.label_rows, self.n_clusters, mask)
        return sums

    def eval_report(self, sums) -> dict[str, float]:
        report = means(sums, ["mse"])
        if sums["clustering"] > 0:
            report |= metrics.label_free_scores(sums["sizes"], sums["silhouette"])
            if "contingency" in sums:
                report |= metrics.scores(sums["contingency"])
        return report

    def pictures(self, state: TrainState, batch, num_samples: int):
        """Reconstructions of a few eval images and the decoded centroids [n_clusters, H, W, C]."""
        del num_samples
        targets, _, reconstruction = self.ae.clean_pass(state, batch)
        return {"reconstructions": jnp.stack([targets, reconstruction]),
                "centroids": self.ae.model.apply({"params": state.params["autoencoder"]}, self.centroids(state),
                                              method="decode")}

    def inference(self, state, mesh):
        from jaxae.trainers.clustering.inference import TrainedClustering

        return TrainedClustering(self, state, mesh)


def check_pretrained_run(config) -> None:
    """ConfigError unless `cluster.init_from` holds a run whose autoencoder this config can take.

    Reads the run's record (`run.json`) only; the loop reads the weights when a fresh run starts (`adopt`).
    """
    from jaxae.runs.run_record import RECORD_FILE

    workdir = os.path.abspath(os.path.expanduser(config.cluster.init_from))
    path = os.path.join(workdir, RECORD_FILE)
    if not os.path.isdir(os.path.join(workdir, "checkpoints")) or not os.path.isfile(path):
        raise ConfigError(f"cluster.init_from={config.cluster.init_from!r} holds no jaxae run (no checkpoints/ "
                          f"and {RECORD_FILE} in {workdir}); train one first, e.g. python train.py "
                          "--config configs/ae_kmeans_mnist.py --workdir DIR")
    try:
        with open(path) as record_file:
            record = json.load(record_file)
        saved = record["config"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigError(f"cluster.init_from={config.cluster.init_from!r}: {path} cannot be read "
                          f"({type(error).__name__})") from None
    saved_model = saved.get("model", {})
    if saved_model.get("name") != "ae":
        raise ConfigError(f"cluster.init_from={config.cluster.init_from!r} trained model.name="
                          f"{saved_model.get('name')!r}; clustering starts from an autoencoder ('ae') run")
    differing = [name for name in architecture_fields(config.model) if name != "name"
                 and json.loads(json.dumps(config.model[name])) != saved_model.get(name)]
    if differing or saved.get("data", {}).get("name") != config.data.name:
        what = ", ".join(f"model.{name}: {saved_model.get(name)!r} there, {config.model[name]!r} here"
                         for name in differing) or f"data.name: {saved.get('data', {}).get('name')!r} there"
        raise ConfigError(f"cluster.init_from={config.cluster.init_from!r} trained another model ({what})")
