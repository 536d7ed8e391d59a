"""A trained autoencoder as `jaxae.load` returns it: encode, decode and reconstruct NumPy arrays. The
autoencoder family returns it as it is; the clustering and classifier families add their predictions."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxae import losses
from jaxae.data import whole_split
from jaxae.data.transforms import binarize, to_unit_interval
from jaxae.data.whole_split import WholeSplit
from jaxae.errors import DataError
from jaxae.losses import likelihood
from jaxae.steps import rng
from jaxae.trainers.base import ExportedPart, TrainedModel


class TrainedAutoencoder(TrainedModel):
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

    offers = frozenset({"encode", "decode", "reconstruct", "scores", "log_likelihood"})
    score_samples = 16  # Posterior draws per example in a VAE's anomaly score (its negative ELBO).

    def __init__(self, autoencoder, state, mesh, batch_size: int | None = None):
        """autoencoder: the run's `AutoencoderCore`; state: the run's state, whose params are the
        autoencoder's (a family holding more sets `params` to its autoencoder's after this)."""
        self.autoencoder, self.config, self.model, self.mesh = autoencoder, autoencoder.config, autoencoder.model, mesh
        self.params, self.step = state.params, int(state.step)
        self.image_shape = autoencoder.image_shape
        self.variational = self.traversable = autoencoder.variational
        self.batch_size = batch_size or self.config.eval_batch_size
        self._likelihood_fns = {}
        self._binarize = self.config.data.binarize if self.config.data.binarize == "static" else "none"

    def _split(self, images, batch_size: int | None = None) -> WholeSplit:
        return whole_split.of_images(images, self.image_shape, self.mesh, self.batch_of(batch_size))

    def parts(self) -> dict[str, ExportedPart]:
        """encoder (images -> codes), decoder (codes -> images) and scorer (images -> scores; a VAE's
        also takes each image's index [b] int32, which keys its posterior draws as in `scores`)."""
        image = {"image": self.field("image")}
        scored = image | ({"index": ((), "int32")} if self.variational else {})
        code = {"code": ((self.config.model.latent_dim,), "float32")}
        return {"encoder": ExportedPart("encode", self._encode, (self.params,), image, ("code",)),
                "decoder": ExportedPart("decode", self._decode, (self.params,), code, ("image",)),
                "scorer": ExportedPart("scores", self._scores, (self.params,), scored, ("score",))}

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

    def _scores(self, params, batch):
        targets = self.model_inputs(batch["image"])
        if not self.variational:
            reconstruction, aux = self.model.apply({"params": params}, targets, train=False)
            return {"score": self.autoencoder.reconstruction_nll(reconstruction, aux, targets)}
        # The negative ELBO: the reconstruction term averaged over posterior draws (each example's
        # own, from its index, so a score does not depend on the batch), plus the KL in closed form.
        keys = rng.keys_for(jax.random.key(0), batch["index"])
        eps = jax.vmap(lambda key: jax.random.normal(key, (self.score_samples, self.config.model.latent_dim)))(keys)

        def one_draw(eps_s):  # eps_s: [batch, latent] -> [batch]
            reconstruction, aux = self.model.apply({"params": params}, targets, eps=eps_s)
            return self.autoencoder.reconstruction_nll(reconstruction, aux, targets), aux

        nll, aux = jax.vmap(one_draw, in_axes=1)(eps)
        kl = losses.gaussian_kl(aux["mu"][0], aux["logvar"][0])
        return {"score": jnp.mean(nll, axis=0) + kl}

    def scores(self, images, *, batch_size: int | None = None) -> np.ndarray:
        """images [n, H, W, C] -> [n] anomaly scores, higher for worse-explained images: the training
        loss's reconstruction term through the code (Bernoulli NLL in nats, or summed squared
        error); for a VAE the negative ELBO, its reconstruction term averaged over
        `score_samples` posterior draws. Deterministic: the same image gets the same score."""
        return self._split(images, batch_size).map(self._scores, self.params)["score"]

    def _log_likelihood(self, samples, params, batch):
        targets = self.model_inputs(batch["image"])
        mu, logvar = self.model.apply({"params": params}, targets, method="encode")
        keys = rng.keys_for(jax.random.key(1), batch["index"])
        return {"log_likelihood": likelihood.iw_log_likelihood(self.autoencoder.decode_nll(params, targets), mu, logvar,
                                                               keys, samples=samples)}

    def log_likelihood(self, images, samples: int = 1000, *, batch_size: int | None = None) -> np.ndarray:
        """images [n, H, W, C] -> [n] a VAE's importance-weighted estimate of log p(x) in nats, from
        `samples` posterior draws per image (`jaxae.losses.likelihood`; a lower bound that tightens as
        `samples` grows), of the images binarised at the run's threshold. For a Bernoulli decoder
        of a statically binarised run: only then are the model's inputs binary."""
        if not self.variational or self.config.loss.reconstruction != "bce" or self._binarize != "static":
            raise DataError("log_likelihood needs a VAE with a Bernoulli decoder trained on statically binarised "
                            "images (model.name='vae', loss.reconstruction='bce', data.binarize='static')")
        if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 1:
            raise DataError(f"samples={samples!r} must be a positive integer")
        # One function per K, kept, so that each K compiles once (WholeSplit caches by function).
        fn = self._likelihood_fns.setdefault(int(samples), functools.partial(self._log_likelihood, int(samples)))
        return self._split(images, batch_size).map(fn, self.params)["log_likelihood"]

    def encode(self, images, *, batch_size: int | None = None) -> np.ndarray:
        """images [n, H, W, C] -> codes [n, latent] (a VAE's posterior mean)."""
        return self._split(images, batch_size).map(self._encode, self.params)["code"]

    def decode(self, codes, *, batch_size: int | None = None) -> np.ndarray:
        """codes [n, latent] -> images [n, H, W, C] in [0, 1] (the decoder's mean)."""
        split = whole_split.of_codes(codes, self.config.model.latent_dim, self.mesh, self.batch_of(batch_size))
        return split.map(self._decode, self.params)["image"]

    def reconstruct(self, images, *, batch_size: int | None = None) -> np.ndarray:
        """images [n, H, W, C] -> reconstructions [n, H, W, C] in [0, 1], through the code's mean."""
        return self._split(images, batch_size).map(self._reconstruct, self.params)["image"]
