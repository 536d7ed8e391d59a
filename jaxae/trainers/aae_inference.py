"""A trained adversarial autoencoder as `jaxae.load` returns it: encode, cluster, reconstruct, generate."""

from __future__ import annotations

import jax
import numpy as np

from jaxae import rng, whole_split
from jaxae.errors import DataError


class TrainedAAE:
    """The autoencoder of a finished (or checkpointed) AAE run, mapped over arrays of any size.

    Images go in raw (uint8 in [0, 255] or floats in [0, 1], [n, H, W, C]); images come out in
    [0, 1] (the decoder's Bernoulli means). Calls run in batches of `batch_size` over all devices
    and return NumPy arrays.
    """

    def __init__(self, trainer, state, mesh, batch_size: int | None = None):
        self.trainer, self.state, self.mesh = trainer, state, mesh
        self.config, self.step = trainer.config, int(state.step)
        self.image_shape, self.n_clusters = trainer.image_shape, trainer.n_clusters
        self.batch_size = batch_size or self.config.eval_batch_size

    def _images(self, images):
        return whole_split.of_images(images, self.image_shape, self.mesh, self.batch_size)

    def _encode(self, state, batch):
        codes = self.trainer.encode(state.params["autoencoder"], batch["image"])
        return codes | {"reconstruction": jax.nn.sigmoid(self.trainer.decode_logits(state.params["autoencoder"], codes))}

    def _generate(self, state, key, batch):
        draws = self.trainer.prior_draws(rng.keys_for(key, batch["index"]))
        return {"image": jax.nn.sigmoid(self.trainer.decode_logits(state.params["autoencoder"], draws))}

    def encode(self, images) -> np.ndarray:
        """images [n, H, W, C] -> style codes [n, latent] (with clusters, the categorical code is
        `predict_proba`'s)."""
        return self._images(images).map(self._encode, self.state)["style"]

    def reconstruct(self, images) -> np.ndarray:
        """images [n, H, W, C] -> reconstructions [n, H, W, C] in [0, 1]."""
        return self._images(images).map(self._encode, self.state)["reconstruction"]

    def predict_proba(self, images) -> np.ndarray:
        """images [n, H, W, C] -> the encoder's softmax over the clusters [n, K]."""
        if not self.n_clusters:
            raise DataError("this adversarial autoencoder has no clusters (model.n_clusters=0)")
        return self._images(images).map(self._encode, self.state)["category"]

    def predict(self, images) -> np.ndarray:
        """images [n, H, W, C] -> each image's cluster [n]."""
        return np.argmax(self.predict_proba(images), axis=-1)

    def generate(self, num: int, seed: int = 0) -> np.ndarray:
        """`num` decoded prior draws [num, H, W, C] in [0, 1]; the same `seed` gives the same images."""
        split = whole_split.of_size(num, self.mesh, self.batch_size)  # Each draw keyed by its index.
        return split.map(self._generate, self.state, jax.random.PRNGKey(seed))["image"]
