"""A trained GAN as `jaxae.load` returns it: generate digits, score images, read InfoGAN's codes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxae.data import whole_split
from jaxae.errors import DataError
from jaxae.steps import rng
from jaxae.trainers.base import ExportedPart, TrainedModel, generator_part


class TrainedGAN(TrainedModel):
    """The players of a finished (or checkpointed) GAN run, mapped over arrays of any size.

    Images go in raw, as the run's data held them (uint8 in [0, 255] or floats in [0, 1],
    [n, H, W, C]); generated images come out in [0, 1]. Calls run in batches of `batch_size`
    over all devices and return NumPy arrays.

    Attributes:
      config: the run's config; `step` the checkpoint's step; `latent_dim` the generator's input width.
    """

    offers = frozenset({"generate", "discriminate"})

    def __init__(self, trainer, state, mesh, batch_size: int | None = None):
        self.trainer, self.state, self.mesh = trainer, state, mesh
        if trainer.categorical:  # InfoGAN's categorical code is a clustering of images.
            self.predicts = "clusters"
            self.offer("predict")
        self.config, self.step = trainer.config, int(state.step)
        self.latent_dim, self.image_shape = trainer.latent_dim, trainer.image_shape
        self.batch_size = batch_size or self.config.eval_batch_size

    def _images(self, images, batch_size: int | None):
        return whole_split.of_images(images, self.image_shape, self.mesh, self.batch_of(batch_size))

    # What the trainer's eval and pictures call too: its latents, generated images and judgement.
    def _generate(self, state, key, batch):
        latents = self.trainer.sample_latents(rng.keys_for(key, batch["index"]))[0]
        return {"image": self.trainer.generated_images(state, latents)}

    def _score(self, state, batch):
        logits, q = self.trainer.judged(state, self.trainer.real_images(batch["image"]))
        out = {"real": jax.nn.sigmoid(logits)}
        return out | ({"q": q} if q is not None else {})

    def _cluster(self, state, batch):
        return {"cluster": jnp.argmax(self._score(state, batch)["q"][:, :self.trainer.categorical], axis=-1)}

    def parts(self) -> dict[str, ExportedPart]:
        """generator (draw indices [b] and a seed -> images), discriminator (images -> P(real) [b]) and,
        for InfoGAN, the clusterer (images -> Q's most likely categorical code [b])."""
        image = {"image": self.field("image")}
        parts = {"generator": generator_part(self._generate, self.state),
                 "discriminator": ExportedPart("discriminate", self._score, (self.state,), image, ("real",))}
        if self.trainer.categorical:
            parts["clusterer"] = ExportedPart("predict", self._cluster, (self.state,), image, ("cluster",))
        return parts

    def generate(self, num: int, seed: int = 0, *, batch_size: int | None = None) -> np.ndarray:
        """`num` generated images [num, H, W, C] in [0, 1]; the same `seed` gives the same images."""
        split = whole_split.of_size(num, self.mesh, self.batch_of(batch_size))  # Each draw keyed by its index.
        return split.map(self._generate, self.state, jax.random.PRNGKey(seed))["image"]

    def discriminate(self, images, *, batch_size: int | None = None) -> np.ndarray:
        """images [n, H, W, C] -> the discriminator's probability [n] that each is real."""
        return self._images(images, batch_size).map(self._score, self.state)["real"]

    def predict(self, images, *, batch_size: int | None = None) -> np.ndarray:
        """InfoGAN: images [n, H, W, C] -> Q's most likely categorical code [n] (a clustering)."""
        if not self.trainer.categorical:
            raise DataError("this GAN has no categorical code (model.categorical_codes=0): nothing to predict")
        return self._images(images, batch_size).map(self._cluster, self.state)["cluster"].astype(np.int64)
