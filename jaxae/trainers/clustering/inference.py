"""A trained deep-clustering run as `jaxae.load` returns it: the autoencoder's API plus `predict`."""

from __future__ import annotations

import numpy as np

from jaxae.trainers.base import ExportedPart
from jaxae.trainers.parts.trained_autoencoder import TrainedAutoencoder


class TrainedClustering(TrainedAutoencoder):
    """`encode`, `decode`, `reconstruct` as for an autoencoder run, and the clusters of new images.

    Attributes:
      centroids: [n_clusters, latent] NumPy array, the centres a code is assigned to.
    """

    offers = TrainedAutoencoder.offers | {"predict"}
    predicts = "clusters"

    def __init__(self, trainer, state, mesh, batch_size: int | None = None):
        super().__init__(trainer.ae, state, mesh, batch_size)
        self.trainer = trainer
        self.state = state
        self.params = state.params["autoencoder"]
        self.centroids = np.asarray(trainer.centroids(state))

    def parts(self) -> dict[str, ExportedPart]:
        """The autoencoder's parts and the clusterer: images -> cluster ids [b] int32."""
        clusterer = ExportedPart("predict", self._predict, (self.state,), {"image": self.field("image")}, ("cluster",))
        return super().parts() | {"clusterer": clusterer}

    def _predict(self, state, batch):
        codes = self.autoencoder.code_of(state.params["autoencoder"], self.model_inputs(batch["image"]))
        return {"cluster": self.trainer.predict(state, codes)}

    def predict(self, images, *, batch_size: int | None = None) -> np.ndarray:
        """images [n, H, W, C] (raw, as the run's data held them) -> [n] int32 cluster of each."""
        return self._split(images, batch_size).map(self._predict, self.state)["cluster"]
