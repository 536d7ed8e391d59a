"""A trained adversarial autoencoder as `jaxae.load` returns it: encode, cluster, reconstruct, generate."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxae import losses
from jaxae.data import whole_split
from jaxae.data.sources import ArraySource
from jaxae.data.transforms import to_unit_interval
from jaxae.errors import DataError
from jaxae.steps import rng
from jaxae.trainers.base import ExportedPart, TrainedModel, generator_part


class TrainedAAE(TrainedModel):
    """The autoencoder of a finished (or checkpointed) AAE run, mapped over arrays of any size.

    Images go in raw (uint8 in [0, 255] or floats in [0, 1], [n, H, W, C]); images come out in
    [0, 1] (the decoder's Bernoulli means). Calls run in batches of `batch_size` over all devices
    and return NumPy arrays.
    """

    offers = frozenset({"encode", "reconstruct", "scores", "generate"})

    def __init__(self, trainer, state, mesh, batch_size: int | None = None):
        self.trainer, self.state, self.mesh = trainer, state, mesh
        self.config, self.step = trainer.config, int(state.step)
        self.image_shape, self.n_clusters = trainer.image_shape, trainer.n_clusters
        self.batch_size = batch_size or self.config.eval_batch_size
        if self.n_clusters:  # decode takes a style and a cluster: not the protocol's decode of codes alone.
            self.predicts = "clusters"
            self.offer("predict", "predict_proba")
        else:
            self.offer("decode")

    def _images(self, images, batch_size: int | None):
        return whole_split.of_images(images, self.image_shape, self.mesh, self.batch_of(batch_size))

    def _encode(self, state, batch):
        codes = self.trainer.encode(state.params["autoencoder"], batch["image"])
        return codes | {"reconstruction": jax.nn.sigmoid(self.trainer.decode_logits(state.params["autoencoder"], codes))}

    def _scores(self, state, batch):
        ae_params = state.params["autoencoder"]
        logits = self.trainer.decode_logits(ae_params, self.trainer.encode(ae_params, batch["image"]))
        return {"score": losses.bce_with_logits(logits, to_unit_interval(batch["image"]))}

    def _decode(self, state, batch):
        codes = {"style": batch["style"]} | ({"category": batch["category"]} if self.n_clusters else {})
        return {"image": jax.nn.sigmoid(self.trainer.decode_logits(state.params["autoencoder"], codes))}

    def _generate(self, state, key, batch):
        draws = self.trainer.prior_draws(rng.keys_for(key, batch["index"]))
        return {"image": jax.nn.sigmoid(self.trainer.decode_logits(state.params["autoencoder"], draws))}

    def _cluster(self, state, batch):
        return {"cluster": jnp.argmax(self._encode(state, batch)["category"], axis=-1)}

    def parts(self) -> dict[str, ExportedPart]:
        """encoder (images -> style codes, and with clusters the categories' probabilities [b, K]),
        decoder (style codes, and with clusters those probabilities -> images), scorer (images -> [b]),
        generator (draw indices [b] and a seed -> images) and, with clusters, the clusterer (images ->
        cluster ids [b])."""
        image = {"image": self.field("image")}
        codes = {"style": ((self.trainer.latent_dim,), "float32")}
        if self.n_clusters:
            codes["category"] = ((self.n_clusters,), "float32")
        encoded = ("style", "category") if self.n_clusters else ("style",)  # The decoder's inputs, both.
        parts = {"encoder": ExportedPart("encode", self._encode, (self.state,), image, encoded),
                 "decoder": ExportedPart("decode", self._decode, (self.state,), codes, ("image",)),
                 "scorer": ExportedPart("scores", self._scores, (self.state,), image, ("score",)),
                 "generator": generator_part(self._generate, self.state)}
        if self.n_clusters:
            parts["clusterer"] = ExportedPart("predict", self._cluster, (self.state,), image, ("cluster",))
        return parts

    def encode(self, images, *, batch_size: int | None = None) -> np.ndarray:
        """images [n, H, W, C] -> style codes [n, latent] (with clusters, the categorical code is
        `predict_proba`'s)."""
        return self._images(images, batch_size).map(self._encode, self.state)["style"]

    def reconstruct(self, images, *, batch_size: int | None = None) -> np.ndarray:
        """images [n, H, W, C] -> reconstructions [n, H, W, C] in [0, 1]."""
        return self._images(images, batch_size).map(self._encode, self.state)["reconstruction"]

    def scores(self, images, *, batch_size: int | None = None) -> np.ndarray:
        """images [n, H, W, C] -> [n] the reconstruction loss through the code (the Bernoulli
        negative log-likelihood of the grey levels, nats): higher for worse-explained images."""
        return self._images(images, batch_size).map(self._scores, self.state)["score"]

    def decode(self, codes, categories=None, *, batch_size: int | None = None) -> np.ndarray:
        """Style codes [n, latent] (and, with clusters, categories: [n] cluster ids or [n, K]
        probabilities such as `predict_proba`'s) -> images [n, H, W, C] in [0, 1]."""
        codes = np.asarray(codes, np.float32)
        if codes.ndim != 2 or codes.shape[1] != self.trainer.latent_dim:
            raise DataError(f"codes must be [n, {self.trainer.latent_dim}]; got shape {codes.shape}")
        fields = {"style": codes}
        if self.n_clusters:
            if categories is None:
                raise DataError(f"this adversarial autoencoder decodes a style and one of its {self.n_clusters} "
                                "clusters: give categories ([n] cluster ids or [n, K] probabilities)")
            categories = np.asarray(categories)
            if categories.ndim == 1:
                ids = np.issubdtype(categories.dtype, np.integer)
                if not ids or categories.min() < 0 or categories.max() >= self.n_clusters:
                    raise DataError(f"categories must be cluster ids in [0, {self.n_clusters}); got dtype "
                                    f"{categories.dtype}, values {categories.min()} to {categories.max()}")
                categories = np.eye(self.n_clusters, dtype=np.float32)[categories]
            if categories.shape != (len(codes), self.n_clusters):
                raise DataError(f"categories must be [{len(codes)}] ids or [{len(codes)}, {self.n_clusters}] "
                                f"probabilities; got shape {categories.shape}")
            fields["category"] = categories.astype(np.float32)
        elif categories is not None:
            raise DataError("this adversarial autoencoder has no clusters (model.n_clusters=0): give codes only")
        source = ArraySource(fields, kinds={name: "dense" for name in fields}, name="codes")
        return whole_split.WholeSplit(source, self.mesh, self.batch_of(batch_size)).map(self._decode, self.state)["image"]

    def predict_proba(self, images, *, batch_size: int | None = None) -> np.ndarray:
        """images [n, H, W, C] -> the encoder's softmax over the clusters [n, K]."""
        if not self.n_clusters:
            raise DataError("this adversarial autoencoder has no clusters (model.n_clusters=0)")
        return self._images(images, batch_size).map(self._encode, self.state)["category"]

    def predict(self, images, *, batch_size: int | None = None) -> np.ndarray:
        """images [n, H, W, C] -> each image's cluster [n]."""
        if not self.n_clusters:
            raise DataError("this adversarial autoencoder has no clusters (model.n_clusters=0)")
        return self._images(images, batch_size).map(self._cluster, self.state)["cluster"].astype(np.int64)

    def generate(self, num: int, seed: int = 0, *, batch_size: int | None = None) -> np.ndarray:
        """`num` decoded prior draws [num, H, W, C] in [0, 1]; the same `seed` gives the same images."""
        split = whole_split.of_size(num, self.mesh, self.batch_of(batch_size))  # Each draw keyed by its index.
        return split.map(self._generate, self.state, jax.random.PRNGKey(seed))["image"]
