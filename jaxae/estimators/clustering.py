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

import importlib

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from jaxae.data.sources import ArraySource
from jaxae.estimators.base import Inputs, TrainedEstimator, cadence, devices_batch, eval_batch

METHODS = ("ae_kmeans", "dcn", "dec", "idec", "vade", "jule", "n2d")


class DeepClustering(ClusterMixin, TransformerMixin, TrainedEstimator, BaseEstimator):
    """Deep clustering of the rows of X (features, or images [n, H, W(, C)]) into `n_clusters`.

    Args:
      method: 'ae_kmeans' (autoencoder + K-means), 'dcn', 'dec', 'idec', 'vade', 'jule' or 'n2d'
        (UMAP + Gaussian mixture on the codes; new rows take their nearest neighbours' cluster).
      n_clusters: the number of clusters.
      latent_dim: the code size; hidden: the encoder's widths (the decoder mirrors them).
      pretrain_epochs, epochs: the autoencoder's pretraining and the clustering phase, in epochs
        ('ae_kmeans' and 'n2d' train no further after pretraining: `epochs` is unused).
      batch_size: examples per step (capped at the number of examples).
      augment_shift: for images, shift them by up to this many pixels in training (0: off; 3 suits
        28x28 digits; rows of features must keep 0).
      random_state: the seed of every random draw (initialisation, batch order, K-means).
      workdir: where the run is trained and kept ('' for a temporary folder).
      verbose: 0 keeps the training loop quiet; 1 shows its progress and metrics.

    Attributes after `fit`:
      labels_ [n] int: the training examples' clusters, as `predict` gives them (for 'n2d' the vote
        of their nearest training codes, which can differ from the partition found for a few);
      cluster_centers_ [n_clusters, latent_dim];
      n_features_in_; workdir_: the run folder.
    """

    def __init__(self, method: str = "idec", n_clusters: int = 10, *, latent_dim: int = 10,
                 hidden: tuple = (500, 500, 2000), pretrain_epochs: int = 200, epochs: int = 100,
                 batch_size: int = 256, augment_shift: int = 0, random_state: int = 0, workdir: str = "",
                 verbose: int = 0):
        self.method, self.n_clusters, self.latent_dim, self.hidden = method, n_clusters, latent_dim, hidden
        self.pretrain_epochs, self.epochs, self.batch_size = pretrain_epochs, epochs, batch_size
        self.augment_shift = augment_shift
        self.random_state, self.workdir, self.verbose = random_state, workdir, verbose

    # ------------------------------------------------------------------ inputs

    def _config(self, num_examples: int):
        if self.method not in METHODS:
            raise ValueError(f"method={self.method!r} is unknown; choose one of {list(METHODS)}")
        config = importlib.import_module(f"configs.{self.method}_mnist").get_config()
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
        if self.method == "jule":  # Every 2 epochs, or sooner so that all merges fit in the phase.
            phase_steps = config.num_epochs * steps_per_epoch
            config.jule.update_interval = max(1, min(2 * steps_per_epoch, phase_steps // (config.jule.periods + 1)))
        return config

    # ------------------------------------------------------------------ fitting

    def fit(self, X, y=None):
        """Trains on X [n, features] or [n, H, W(, C)] (numbers; scaled to [0, 1] by X's range). y is ignored."""
        del y
        self._check_shift(X)
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

    def predict(self, X) -> np.ndarray:
        """[n] int32: the cluster of each row of X (same features as in `fit`)."""
        images = self._images(X)  # First: an unfitted estimator says so.
        return self.model_.predict(images)

    def transform(self, X) -> np.ndarray:
        """[n, latent_dim]: the encoder's codes of X."""
        images = self._images(X)
        return self.model_.encode(images)

    # ------------------------------------------------------------------ saving, without pickle (base.TrainedEstimator)

    def _state(self) -> dict:
        return {"inputs": self.inputs_.to_json(), "labels": self.labels_.tolist()}

    def _set_state(self, state: dict) -> None:
        self.inputs_ = Inputs.from_json(state["inputs"])
        self.labels_ = np.asarray(state["labels"], np.int32)
        self.n_features_in_ = self.inputs_.num_features
        self.cluster_centers_ = np.asarray(self.model_.centroids)
