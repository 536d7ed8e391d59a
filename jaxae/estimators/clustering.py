"""`DeepClustering`: the deep-clustering families behind scikit-learn's clusterer interface.

    from sklearn.datasets import load_digits
    import jaxae

    model = jaxae.DeepClustering(method="idec", n_clusters=10, random_state=0).fit(load_digits().data)
    labels = model.labels_                       # clusters of the training examples
    clusters = model.predict(new_examples)       # clusters of new ones, same features
    codes = model.transform(new_examples)        # [n, latent_dim]
    model.save("digits_idec")                    # a folder: Orbax checkpoint + JSON, no pickle
    again = jaxae.DeepClustering.load("digits_idec")

`fit` trains the method's config (`configs/<method>_mnist.py`: its network, pretraining and
clustering schedule) on X through the same loop as `train.py`, in a run folder (`workdir`, a
temporary one by default), then reads the trained model back with `jaxae.load`.
"""

from __future__ import annotations

import functools

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from jaxae.cluster import kmeans
from jaxae.config import experiments
from jaxae.config.checks import number_value, widths_value
from jaxae.data.sources import ArraySource
from jaxae.estimators.base import Inputs, TrainedEstimator, cadence, devices_batch, eval_batch, in_canonical_order

METHODS = ("ae_kmeans", "dcn", "dec", "idec", "vade", "jule", "n2d")


class DeepClustering(ClusterMixin, TransformerMixin, TrainedEstimator, BaseEstimator):
    """Deep clustering of the rows of X (features, or images [n, H, W(, C)]) into `n_clusters`.

    Args:
      method: 'ae_kmeans' (autoencoder + K-means), 'dcn', 'dec', 'idec', 'vade', 'jule' or 'n2d'
        (UMAP + Gaussian mixture on the codes; new rows take their nearest neighbours' cluster).
      n_clusters: the number of clusters.
      latent_dim: the code size; hidden: the encoder's widths (the decoder mirrors them).
      pretrain_epochs, epochs: the autoencoder's pretraining and the clustering phase, in epochs
        ('ae_kmeans' and 'n2d' train no further after pretraining: `epochs` is unused; 'dec' and
        'idec' train every epoch, without the paper's early stop on stable assignments).
      batch_size: examples per step (capped at the number of examples).
      augment_shift: for images, shift them by up to this many pixels in training (0: off; 3 suits
        28x28 digits; rows of features must keep 0).
      random_state: the seed of every random draw (initialisation, batch order, K-means).
      workdir: where the run is trained and kept ('' for a temporary folder, removed with the
        estimator); each fit trains afresh there (`estimators.base.TrainedEstimator`).
      keep_workdir: keep every run: a temporary folder outlives the estimator, and a fit refuses
        a workdir that holds an earlier fit's run rather than replacing it.
      verbose: 0 keeps the training loop quiet; 1 shows its progress and metrics.

    Attributes after `fit`:
      labels_ [n] int: the training examples' clusters, as `predict` gives them (for 'n2d' the vote
        of their nearest training codes, which can differ from the partition found for a few);
      cluster_centers_ [n_clusters, latent_dim];
      n_features_in_; workdir_: the run folder.
    """

    parameter_fields = {"cluster.n_clusters": "n_clusters", "model.latent_dim": "latent_dim", "model.hidden": "hidden",
                        "pretrain.num_epochs": "pretrain_epochs", "num_epochs": "epochs", "batch_size": "batch_size",
                        "data.augment_shift": "augment_shift", "seed": "random_state"}

    def __init__(self, method: str = "idec", n_clusters: int = 10, *, latent_dim: int = 10,
                 hidden: tuple = (500, 500, 2000), pretrain_epochs: int = 200, epochs: int = 100,
                 batch_size: int = 256, augment_shift: int = 0, random_state: int = 0, workdir: str = "",
                 keep_workdir: bool = False, verbose: int = 0):
        self.method, self.n_clusters, self.latent_dim, self.hidden = method, n_clusters, latent_dim, hidden
        self.pretrain_epochs, self.epochs, self.batch_size = pretrain_epochs, epochs, batch_size
        self.augment_shift = augment_shift
        self.random_state, self.workdir, self.keep_workdir, self.verbose = random_state, workdir, keep_workdir, verbose

    # ------------------------------------------------------------------ inputs

    def _check_params(self) -> None:
        """ValueError naming the first parameter that cannot be trained with, before any data is read."""
        if self.method not in METHODS:
            raise ValueError(f"method={self.method!r} is unknown; choose one of {list(METHODS)}")
        number_value("n_clusters", self.n_clusters, integer=True, low=2)
        number_value("latent_dim", self.latent_dim, integer=True, low=1)
        widths_value("hidden", self.hidden, allow_empty=True)  # () is a linear autoencoder.
        number_value("pretrain_epochs", self.pretrain_epochs, integer=True, low=0)
        number_value("epochs", self.epochs, integer=True, low=1)
        number_value("batch_size", self.batch_size, integer=True, low=1)
        number_value("augment_shift", self.augment_shift, integer=True, low=0)
        number_value("random_state", self.random_state, integer=True, low=0, high=2**32 - 1)

    def _config(self, num_examples: int):
        config = experiments.get_config(f"{self.method}_mnist")
        config.seed = int(self.random_state)
        config.cluster.n_clusters = int(self.n_clusters)
        config.model.latent_dim, config.model.hidden = int(self.latent_dim), tuple(self.hidden)
        config.batch_size = devices_batch(int(self.batch_size), num_examples)
        config.data.augment_shift = int(self.augment_shift)
        steps_per_epoch = max(num_examples // config.batch_size, 1)
        config.pretrain.num_epochs = int(self.pretrain_epochs)
        config.num_epochs = int(self.epochs)  # Inert for ae_kmeans and n2d: num_steps=1 sets their phase.
        config.cluster.eval_labels = False
        config.eval_batch_size = eval_batch(num_examples)
        cadence(config, steps_per_epoch)
        if self.method in ("dec", "idec"):
            config.dec.update_interval = max(1, steps_per_epoch // 2)
            # Every epoch asked for is trained: DEC's stopping test (fewer than dec.tolerance of the rows
            # changing cluster between refreshes) stopped a small data set's run at its first refresh, a
            # few steps in, on K-means's clusters.
            config.dec.tolerance = 0.0
        if self.method == "jule":  # Every 2 epochs, or sooner so that all merges fit in the phase.
            phase_steps = config.num_epochs * steps_per_epoch
            config.jule.update_interval = max(1, min(2 * steps_per_epoch, phase_steps // (config.jule.periods + 1)))
        return config

    # ------------------------------------------------------------------ fitting

    def fit(self, X, y=None):
        """Trains on X [n, features] or [n, H, W(, C)] (numbers; scaled to [0, 1] by X's range). y is ignored."""
        del y
        self._check_params()
        self._check_shift(X)
        self._forget_fit()
        self.inputs_ = Inputs.fit(X, min_samples=self.n_clusters, tables=False)  # Rows are 1 x d images.
        images = self.inputs_.arrays(X)["image"]
        self.n_features_in_ = self.inputs_.num_features
        self._train(self._config(len(images)), ArraySource({"image": images}, name="X"))
        self.cluster_centers_ = np.asarray(self.model_.centroids)
        self.labels_ = self.predict(X)
        return self

    def _check_shift(self, X) -> None:
        if self.augment_shift and np.ndim(X) == 2:
            raise ValueError(f"augment_shift={self.augment_shift} shifts images; X is [n, features]: use 0")

    def _images(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self.inputs_.arrays(X)["image"]

    def fit_predict(self, X, y=None, **kwargs):
        return self.fit(X).labels_

    def predict(self, X, *, batch_size: int | None = None) -> np.ndarray:
        """[n] int32: the cluster of each row of X (same features as in `fit`), `batch_size` rows at
        a time (default up to 512: it bounds the device memory)."""
        images = self._images(X)  # First: an unfitted estimator says so.
        return in_canonical_order(functools.partial(self.model_.predict, batch_size=batch_size), images)

    def transform(self, X, *, batch_size: int | None = None) -> np.ndarray:
        """[n, latent_dim]: the encoder's codes of X."""
        images = self._images(X)
        return in_canonical_order(functools.partial(self.model_.encode, batch_size=batch_size), images)

    def score(self, X, y=None, *, batch_size: int | None = None) -> float:
        """The opposite of the K-means objective of X's codes: minus the summed squared distance of
        each code to its cluster's centre, as `sklearn.cluster.KMeans.score` (higher is better; y
        is ignored). Comparable between fits of the same code space only; with labels, score the
        clusters by `sklearn.metrics` (e.g. `normalized_mutual_info_score(y, model.predict(X))`)."""
        del y
        codes = self.transform(X, batch_size=batch_size)
        distances = np.asarray(kmeans.squared_distances(codes, self.cluster_centers_))
        return -float(np.sum(distances[np.arange(len(codes)), self.predict(X, batch_size=batch_size)]))

    # ------------------------------------------------------------------ saving, without pickle (base.TrainedEstimator)

    def _state(self) -> dict:
        return {"inputs": self.inputs_.to_json(), "labels": self.labels_.tolist()}

    def _set_state(self, state: dict) -> None:
        self.inputs_ = Inputs.from_json(state["inputs"])
        self.labels_ = np.asarray(state["labels"], np.int32)
        self.n_features_in_ = self.inputs_.num_features
        self.cluster_centers_ = np.asarray(self.model_.centroids)
