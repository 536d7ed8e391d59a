"""A trained autoencoder as `jaxae.load` returns it: encode, decode and reconstruct NumPy arrays."""

from __future__ import annotations

import numpy as np

from jaxae import whole_split
from jaxae.data.sources import ArraySource
from jaxae.data.transforms import binarize, to_unit_interval
from jaxae.errors import DataError
from jaxae.whole_split import WholeSplit


class TrainedAutoencoder:
    """The model of a finished (or checkpointed) autoencoder run, mapped over arrays of any size.

    Inputs are raw images as the run's data held them: uint8 in [0, 255] or floats in [0, 1],
    [n, H, W, C] (or grey [n, H, W]), of the run's image shape. They get the run's own input
    transform: scaled to [0, 1], then binarised at the run's threshold when it used static
    binarisation (dynamic binarisation is a training-time augmentation: grey levels are kept).
    Every call runs in batches of `batch_size` over all devices and returns NumPy arrays.

    Attributes:
      config: the config the run was trained with.
      model: the Flax module; `params` its parameters, `step` the checkpoint's step.
    """

    def __init__(self, trainer, state, mesh, batch_size: int | None = None):
        self.config, self.model, self.mesh = trainer.config, trainer.model, mesh
        self.params, self.step = state.params, int(state.step)
        self.image_shape = trainer.image_shape
        self.variational = trainer.variational
        self.batch_size = batch_size or self.config.eval_batch_size
        self._binarize = self.config.data.binarize if self.config.data.binarize == "static" else "none"

    def _split(self, images) -> WholeSplit:
        return whole_split.of_images(images, self.image_shape, self.mesh, self.batch_size)

    def model_inputs(self, images):
        """Raw images [b, H, W, C] -> the model's inputs, float32 in [0, 1]."""
        return binarize(None, to_unit_interval(images), mode=self._binarize,
                        threshold=self.config.data.binarize_threshold)

    def _encode(self, params, batch):
        codes = self.model.apply({"params": params}, self.model_inputs(batch["image"]), method="encode")
        return {"code": codes[0] if self.variational else codes}

    def _decode(self, params, batch):
        return {"image": self.model.apply({"params": params}, batch["code"], method="decode")}

    def _reconstruct(self, params, batch):
        return self._decode(params, {"code": self._encode(params, batch)["code"]})

    def encode(self, images) -> np.ndarray:
        """images [n, H, W, C] -> codes [n, latent] (a VAE's posterior mean)."""
        return self._split(images).map(self._encode, self.params)["code"]

    def decode(self, codes) -> np.ndarray:
        """codes [n, latent] -> images [n, H, W, C] in [0, 1] (the decoder's mean)."""
        codes = np.asarray(codes)
        latent = self.config.model.latent_dim
        if codes.ndim != 2 or codes.shape[1] != latent:
            raise DataError(f"codes must be [n, {latent}]; got shape {codes.shape}")
        source = ArraySource({"code": codes}, kinds={"code": "dense"}, name="codes")
        return WholeSplit(source, self.mesh, self.batch_size).map(self._decode, self.params)["image"]

    def reconstruct(self, images) -> np.ndarray:
        """images [n, H, W, C] -> reconstructions [n, H, W, C] in [0, 1], through the code's mean."""
        return self._split(images).map(self._reconstruct, self.params)["image"]
