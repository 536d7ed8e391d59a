"""A trained classifier run as `jaxae.load` returns it: the autoencoder's API plus class predictions."""

from __future__ import annotations

import jax
import numpy as np

from jaxae.trainers.base import ExportedPart
from jaxae.trainers.parts.trained_autoencoder import TrainedAutoencoder


class TrainedClassifier(TrainedAutoencoder):
    """`encode`, `decode`, `reconstruct` as for an autoencoder run, and the classes of new images."""

    offers = TrainedAutoencoder.offers | {"predict", "predict_proba"}
    predicts = "classes"

    def __init__(self, trainer, state, mesh, batch_size: int | None = None):
        super().__init__(trainer.ae, state, mesh, batch_size)
        self.trainer = trainer
        self.classifier_params = state.params
        self.params = state.params["autoencoder"]

    def parts(self) -> dict[str, ExportedPart]:
        """The autoencoder's parts and the classifier: images -> class probabilities [b, classes]."""
        classifier = ExportedPart("predict_proba", self._probabilities, (self.classifier_params,),
                                  {"image": self.field("image")}, ("probabilities",))
        return super().parts() | {"classifier": classifier}

    def _probabilities(self, params, batch):
        return {"probabilities": jax.nn.softmax(self.trainer.logits(params, self.model_inputs(batch["image"])))}

    def predict_proba(self, images, *, batch_size: int | None = None) -> np.ndarray:
        """images [n, H, W, C] (raw, as the run's data held them) -> [n, num_classes] class probabilities."""
        return self._split(images, batch_size).map(self._probabilities, self.classifier_params)["probabilities"]

    def predict(self, images, *, batch_size: int | None = None) -> np.ndarray:
        """images [n, H, W, C] -> [n] int64, the most probable class of each."""
        return np.argmax(self.predict_proba(images, batch_size=batch_size), axis=-1)
