"""The autoencoder as a part that families hold: the autoencoder family trains it alone, the
deep-clustering families pretrain it and cluster its codes, the classifier puts a head on its
encoder. None of them derives from another's trainer.

Which autoencoder a config makes follows from the config alone: ``model.name`` ('ae' or 'vae'),
``noise.kind`` (denoising), the sparsity weights in ``loss`` and ``loss.beta``/``kl_warmup_steps``.
Its steps are pure, so they run under ``jit``, sharded ``jit``, ``pmap`` and inside ``lax.scan``
unchanged. Every random draw is made per example (`jaxae.steps.rng`), so it does not depend on how
the batch is split over devices.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np

from jaxae import losses
from jaxae.config import checks
from jaxae.data.transforms import BINARIZATIONS, binarize, random_shift, to_unit_interval
from jaxae.devices import parallel
from jaxae.errors import ConfigError
from jaxae.losses import likelihood
from jaxae.metrics import frechet
from jaxae.metrics.means import masked_sums, means
from jaxae.models import architecture_fields, build_model, validate_model_config
from jaxae.pictures import latent_pictures
from jaxae.steps import corruptions, optimizers, rng
from jaxae.steps.rng import EVAL_STREAM, IMAGES_STREAM
from jaxae.steps.train_state import TrainState
from jaxae.steps.updates import guarded_gradient_step

RECONSTRUCTION_LOSSES = ("bce", "mse")
SHIFT_STREAM = 7  # Folded into each example's key for its shift (the other streams come from a split).
# Binarisation suits binary-like images only: in mnist_5k 9 % of the pixel values lie strictly between
# 0.1 and 0.9, in scikit-learn's 8x8 digits 35 %, in grey-level photos most. Above this share it is refused.
MAX_GREY_SHARE = 0.25
GREY_SAMPLE = 1024  # Examples read (evenly spaced) to measure the share.


class AutoencoderCore:
    """An autoencoder as a part of a family: the model, the input transform and augmentation, the
    objective, the codes, the guarded update of its parameters, its eval sums and pictures.

    Args:
      config: the run's ConfigDict (its model, loss, noise, data and optimizer sections).
      image_shape: (H, W, C) of the images.
      optimizer_steps: the steps `tx` makes (a decaying schedule's horizon): the family's phase
        that trains the autoencoder.
      axis_name: the mapped device axis under `pmap`, else None.
    """

    @staticmethod
    def validate_config(config) -> None:
        """ConfigError for the first wrong field of the autoencoder's sections."""
        validate_model_config(config)
        checks.choice(config, "loss.reconstruction", RECONSTRUCTION_LOSSES)
        if config.loss.reconstruction == "bce" and config.model.output_activation != "sigmoid":
            raise ConfigError("loss.reconstruction='bce' needs model.output_activation='sigmoid' (a Bernoulli "
                              f"mean); got {config.model.output_activation!r}")
        for field in ("loss.beta", "loss.l1_weight", "loss.l2_weight", "loss.activity_l1", "loss.kl_sparsity_weight"):
            checks.number(config, field, low=0)
        checks.number(config, "loss.kl_warmup_steps", low=0, integer=True)
        checks.number(config, "loss.kl_sparsity_target", low=0, high=1, low_open=True, high_open=True)
        checks.number(config, "loss.iw_samples", low=1, integer=True)
        checks.number(config, "loss.eval_iw_samples", low=0, integer=True)
        for field in ("loss.iw_samples", "loss.eval_iw_samples"):
            if checks.get(config, field) > (1 if field == "loss.iw_samples" else 0) and (
                    config.model.name != "vae" or config.loss.reconstruction != "bce" or config.data.binarize == "none"):
                raise ConfigError(f"{field}={checks.get(config, field)} is for a VAE with a Bernoulli decoder of binary "
                                  f"images (a likelihood); this config has model.name={config.model.name!r}, "
                                  f"loss.reconstruction={config.loss.reconstruction!r}, "
                                  f"data.binarize={config.data.binarize!r}")
        checks.choice(config, "noise.kind", ("none", *corruptions.CORRUPTIONS))
        if config.noise.kind == "gaussian":
            checks.number(config, "noise.level", low=0)
        elif config.noise.kind != "none":
            checks.number(config, "noise.level", low=0, high=1, high_open=True)
        checks.choice(config, "data.binarize", BINARIZATIONS)
        checks.number(config, "data.binarize_threshold", low=0, high=1)
        checks.number(config, "data.augment_shift", low=0, integer=True)
        optimizers.validate(config)

    @staticmethod
    def refuse_importance_weighting(config) -> None:
        """For families that hold an autoencoder but train and evaluate it without importance
        weighting: ConfigError when the config asks for it (fields absent from older runs' configs are off)."""
        for field, off in (("loss.iw_samples", 1), ("loss.eval_iw_samples", 0)):
            if config.loss.get(field.split(".")[1], off) != off:
                raise ConfigError(f"{field}={checks.get(config, field)}: importance weighting is for the autoencoder "
                                  f"family's VAEs, not trainer={config.trainer!r}; leave it at {off}")

    def __init__(self, config, image_shape, *, optimizer_steps: int, axis_name=None):
        self.config, self.axis_name = config, axis_name
        self.image_shape = tuple(image_shape)
        self.values_per_image = int(np.prod(self.image_shape))  # What a reconstruction loss sums over.
        self.model = build_model(config.model, self.image_shape, config.compute_dtype)
        self.tx = optimizers.build_optimizer(config.optimizer, optimizer_steps, self.values_per_image)
        self.variational = config.model.name == "vae"
        self.loss_scaling = config.compute_dtype == "float16"
        # Absent from the configs of runs saved before importance weighting existed.
        self.iw_samples = config.loss.get("iw_samples", 1)
        self.eval_iw_samples = config.loss.get("eval_iw_samples", 0)

    def check_data(self, source) -> None:
        """ConfigError when `data.binarize` would turn colour or grey-level images into 0 or 1: it is
        meant for binary-like digits (the Bernoulli likelihood of black and white)."""
        mode = self.config.data.binarize
        if mode == "none":
            return
        advice = "set data.binarize='none' (the Bernoulli likelihood of the levels themselves)"
        if self.image_shape[-1] > 1:
            raise ConfigError(f"data.binarize={mode!r} turns each value into 0 or 1, which suits black-and-white "
                              f"digits, not the colour images {self.image_shape} of {source.where}: {advice}")
        indices = np.unique(np.linspace(0, len(source) - 1, min(len(source), GREY_SAMPLE)).astype(np.int64))
        images = source.read(indices, ["image"])["image"]
        levels = images / 255.0 if images.dtype == np.uint8 else images
        share = float(np.mean((levels > 0.1) & (levels < 0.9)))
        if share > MAX_GREY_SHARE:
            raise ConfigError(f"data.binarize={mode!r} turns grey levels into 0 or 1, but {share:.0%} of the pixel "
                              f"values of {source.where} lie between 0.1 and 0.9 (binary-like digits such as "
                              f"MNIST's have about 9 %): {advice}")

    def objective_fields(self) -> list[str]:
        """The config fields that set the model and the autoencoder's training objective."""
        config = self.config
        fields = [f"model.{name}" for name in architecture_fields(config.model)]
        fields += ["loss.reconstruction", "loss.l1_weight", "loss.l2_weight", "loss.activity_l1",
                   "loss.kl_sparsity_weight", "noise.kind", "data.binarize", "compute_dtype"]
        if self.variational:
            fields += ["loss.beta", "loss.kl_warmup_steps"]
        if self.iw_samples > 1:
            fields.append("loss.iw_samples")
        if config.loss.kl_sparsity_weight:
            fields.append("loss.kl_sparsity_target")
        if config.noise.kind != "none":
            fields.append("noise.level")
        if config.data.binarize == "static":
            fields.append("data.binarize_threshold")
        if config.data.augment_shift:
            fields.append("data.augment_shift")
        return fields

    # ----------------------------------------------------------------------------- state

    def init_params(self, key):
        """key -> the model's fresh parameters (the key also seeds the VAE's sampling at init)."""
        dummy = jnp.zeros((1, *self.image_shape), jnp.float32)
        return self.model.init({"params": key, "sample": key}, dummy)["params"]

    # ----------------------------------------------------------------------------- inputs

    def check_images(self, images) -> None:
        """Trace-time check that a batch is [batch, H, W, C] of this trainer's image shape."""
        chex.assert_rank(images, 4)
        chex.assert_shape(images, (None, *self.image_shape))

    def model_inputs(self, images, keys):
        """Raw images [batch, H, W, C] -> float32 targets in [0, 1], binarised as configured.

        keys: [batch] per-example keys (used by dynamic binarisation only).
        """
        data = self.config.data

        def one(key, image):
            return binarize(key, to_unit_interval(image), mode=data.binarize, threshold=data.binarize_threshold)

        return rng.per_example(one, keys, images)

    def _beta(self, step):
        """beta, ramped linearly from 0 over `loss.kl_warmup_steps` (KL annealing)."""
        beta = self.config.loss.beta
        warmup = self.config.loss.kl_warmup_steps
        if warmup <= 0:
            return jnp.asarray(beta, jnp.float32)
        return beta * jnp.minimum(1.0, step.astype(jnp.float32) / warmup)

    # ----------------------------------------------------------------------------- losses

    def reconstruction_nll(self, reconstruction, aux, targets):
        """Per-example reconstruction term [batch]: Bernoulli NLL in nats, or summed squared error."""
        if self.config.loss.reconstruction == "bce":
            return losses.bce_with_logits(aux["logits"], targets)
        return losses.squared_error(reconstruction, targets)

    def apply(self, params, inputs, eps=None, *, train: bool):
        """The model on inputs [batch, H, W, C]; eps [batch, latent] is the VAE's noise."""
        kwargs = {"eps": eps} if self.variational else {}
        return self.model.apply({"params": params}, inputs, train=train, **kwargs)

    def decode_nll(self, params, targets):
        """codes [batch, latent] -> [batch] the decoder's Bernoulli NLL of `targets` [batch, H, W, C]."""
        return lambda codes: losses.bce_with_logits(
            self.model.apply({"params": params}, codes, method="decode_logits"), targets)

    def iw_terms(self, params, targets, inputs, eps, step):
        """IWAE's objective: minus the bound of K draws eps [batch, K, latent], the prior and posterior
        terms weighted by beta. Returns (loss, metrics, the posterior means [batch, latent])."""
        mu, logvar = self.model.apply({"params": params}, inputs, method="encode")
        beta = self._beta(step)
        weights = likelihood.log_weights(self.decode_nll(params, targets), mu, logvar, jnp.swapaxes(eps, 0, 1),
                                         beta=beta)
        loss = -jnp.mean(jax.nn.logsumexp(weights, axis=0) - jnp.log(self.iw_samples))
        return loss, {"neg_iw_bound": loss, "kl": jnp.mean(losses.gaussian_kl(mu, logvar)), "beta": beta}, mu

    def elbo_terms(self, params, targets, inputs, eps, step):
        """The reconstruction term (plus beta KL for a VAE, one draw eps [batch, latent]). Returns
        (loss, metrics, the codes [batch, latent] the penalties act on)."""
        reconstruction, aux = self.apply(params, inputs, eps, train=True)
        recon = self.reconstruction_nll(reconstruction, aux, targets)
        metrics = {"recon": jnp.mean(recon)}
        loss = metrics["recon"]
        if self.variational:
            kl = jnp.mean(losses.gaussian_kl(aux["mu"], aux["logvar"]))
            beta = self._beta(step)
            loss = loss + beta * kl
            metrics.update(kl=kl, beta=beta, neg_elbo=metrics["recon"] + kl)
        return loss, metrics, aux["z"]

    def loss_fn(self, params, targets, inputs, eps, step):
        """Scalar training loss and its parts. targets, inputs: [batch, H, W, C] (inputs maybe corrupted)."""
        cfg = self.config.loss
        terms = self.iw_terms if self.iw_samples > 1 else self.elbo_terms
        loss, metrics, codes = terms(params, targets, inputs, eps, step)
        penalty = jnp.zeros((), jnp.float32)
        if cfg.l1_weight:
            penalty += cfg.l1_weight * losses.l1_penalty(params)
        if cfg.l2_weight:
            penalty += cfg.l2_weight * losses.l2_penalty(params)
        if cfg.activity_l1:
            penalty += cfg.activity_l1 * jnp.mean(losses.l1_activity(codes))
        if cfg.kl_sparsity_weight:
            # The code passes through a sigmoid so each unit's mean activation is a rate in (0, 1);
            # the rate is a statistic of the whole global batch, on any number of devices.
            rho_hat = parallel.batch_mean(jax.nn.sigmoid(codes), self.axis_name)
            penalty += cfg.kl_sparsity_weight * jnp.sum(losses.kl_sparsity(rho_hat, target=cfg.kl_sparsity_target))
        if cfg.l1_weight or cfg.l2_weight or cfg.activity_l1 or cfg.kl_sparsity_weight:
            metrics["penalty"] = penalty
            loss = loss + penalty
        metrics["loss"] = loss
        return loss, metrics

    # ----------------------------------------------------------------------------- steps

    def train_inputs(self, state, images, *, augment: bool = True):
        """Raw images [batch, H, W, C] -> (targets, inputs (corrupted when denoising), VAE noise or None).

        Every draw is per example, from the state's key folded with its step and the example's
        place in the global batch. `augment`: shift the images by up to `data.augment_shift` pixels.
        """
        self.check_images(images)
        keys = rng.example_keys(jax.random.fold_in(state.key, state.step), images.shape[0],
                                rng.batch_offset(images.shape[0], self.axis_name))
        binarize_keys, noise_keys, sample_keys = rng.split_streams(keys, 3)
        targets = self.model_inputs(images, binarize_keys)
        if augment and self.config.data.augment_shift:  # Input and target alike: the model sees shifted digits.
            shift_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(keys, SHIFT_STREAM)
            targets = rng.per_example(lambda k, x: random_shift(k, x, max_shift=self.config.data.augment_shift),
                                      shift_keys, targets)
        noise = self.config.noise
        inputs = rng.per_example(lambda k, x: corruptions.corrupt(k, x, kind=noise.kind, level=noise.level),
                                 noise_keys, targets)
        draws = (self.iw_samples,) if self.iw_samples > 1 else ()
        eps = rng.normal_per_example(sample_keys, (*draws, self.config.model.latent_dim)) if self.variational else None
        return targets, inputs, eps

    def train_step(self, state: TrainState, batch):
        """One guarded update of a state whose params and opt_state are the autoencoder's own (and
        whose extra holds the loss scale under float16). batch: {'image': [batch, H, W, C] raw, ...}
        -> (new state, scalar metrics)."""
        targets, inputs, eps = self.train_inputs(state, batch["image"])

        def loss_fn(params):
            loss, metrics = self.loss_fn(params, targets, inputs, eps, state.step)
            return loss, (metrics, None)

        params, opt_state, scaling, metrics, _ = guarded_gradient_step(
            loss_fn, self.tx, state.params, state.opt_state, axis_name=self.axis_name,
            skip_nonfinite=self.config.nonfinite == "skip", scaling=state.extra if self.loss_scaling else None)
        extra = scaling if self.loss_scaling else state.extra
        return state.replace(step=state.step + 1, params=params, opt_state=opt_state, extra=extra), metrics

    def pretrain_step(self, state: TrainState, batch):
        """`train_step` for families that pretrain an autoencoder inside a larger state: on
        params['autoencoder'] with opt_state['pretrain'] (this part's `tx`); the rest is kept."""
        inner = state.replace(params=state.params["autoencoder"], opt_state=state.opt_state["pretrain"], extra={})
        inner, metrics = self.train_step(inner, batch)
        return state.replace(step=inner.step, params={**state.params, "autoencoder": inner.params},
                             opt_state={**state.opt_state, "pretrain": inner.opt_state}), metrics

    def clean_pass(self, state: TrainState, batch):
        """(targets, codes, reconstructions) of a batch's clean images through the mean code of
        params['autoencoder'] (the layout of `pretrain_step`)."""
        targets, _ = self.eval_inputs(state, batch["image"], batch["index"])
        codes = self.code_of(state.params["autoencoder"], targets)
        return targets, codes, self.model.apply({"params": state.params["autoencoder"]}, codes, method="decode")

    def code_of(self, params, x):
        """The code [batch, latent] of inputs x [batch, H, W, C] in [0, 1]: the encoder's output (a
        VAE's posterior mean)."""
        code = self.model.apply({"params": params}, x, method="encode")
        return code[0] if self.variational else code

    def eval_inputs(self, state, images, index):
        """Eval targets of raw images [batch, H, W, C] and each example's VAE noise (or None).

        index: [batch] the examples' indices in their split: each example's draws depend on it
        alone, whatever the batch size or the number of devices.
        """
        binarize_keys, sample_keys = rng.split_streams(rng.keys_for(jax.random.fold_in(state.key, EVAL_STREAM), index), 2)
        targets = self.model_inputs(images, binarize_keys)
        eps = rng.normal_per_example(sample_keys, (self.config.model.latent_dim,)) if self.variational else None
        return targets, eps

    def eval_step(self, state: TrainState, batch, mask):
        """{name: sum over the unmasked examples} of per-example metrics, and 'count'."""
        self.check_images(batch["image"])
        targets, eps = self.eval_inputs(state, batch["image"], batch["index"])
        reconstruction, aux = self.apply(state.params, targets, eps, train=False)
        per_example = {"mse": losses.mse(reconstruction, targets)}
        if self.config.model.output_activation == "sigmoid":
            per_example["bce"] = losses.bce_with_logits(aux["logits"], targets)
        if self.variational:
            per_example["recon"] = self.reconstruction_nll(reconstruction, aux, targets)
            per_example["kl"] = losses.gaussian_kl(aux["mu"], aux["logvar"])
            per_example["neg_elbo"] = per_example["recon"] + per_example["kl"]
        if self.eval_iw_samples:
            keys = rng.keys_for(jax.random.fold_in(jax.random.fold_in(state.key, EVAL_STREAM), 2), batch["index"])
            per_example["iw_nll"] = -likelihood.iw_log_likelihood(
                self.decode_nll(state.params, targets), aux["mu"], aux["logvar"], keys, samples=self.eval_iw_samples)
        sums = masked_sums(per_example, mask)
        if self.variational and frechet.applies(self.image_shape):
            sums["frechet"] = self.frechet_sums(state, batch, mask)
        return sums

    def frechet_sums(self, state, batch, mask):
        """Digit-classifier feature sums of the eval digits (grey levels) and of as many prior
        samples (the decoder's Bernoulli means), each drawn from its example's index."""
        keys = rng.keys_for(jax.random.fold_in(jax.random.fold_in(state.key, EVAL_STREAM), 1), batch["index"])
        z = rng.normal_per_example(keys, (self.config.model.latent_dim,))
        samples = self.model.apply({"params": state.params}, z, method="decode")
        return frechet.pair_sums(to_unit_interval(batch["image"]), samples, mask)

    def eval_report(self, sums) -> dict[str, float]:
        """Means per example: the sums divided by the count of real examples; a VAE's samples'
        Frechet distance to the eval digits (`jaxae.metrics.frechet`) on 28x28 grey images."""
        report = means(sums, [name for name in sums if name not in ("count", "frechet")])
        return report | (frechet.pair_report(sums["frechet"]) if "frechet" in sums else {})

    def pictures(self, state: TrainState, batch, num_samples: int):
        """Originals over their reconstructions [2, n, H, W, C]; decoded straight lines between the
        codes of pairs of them [n // 2, 8, H, W, C]; for a VAE, prior samples [num_samples, H, W, C]
        and each of the first 10 code dimensions moved over +-3 around the first image's code
        [10, 8, H, W, C] (`jaxae.pictures.latent_pictures`)."""
        key = jax.random.fold_in(state.key, IMAGES_STREAM)
        images = batch["image"]
        targets = self.model_inputs(images, rng.example_keys(key, images.shape[0]))
        variables = {"params": state.params}
        codes = self.model.apply(variables, targets, method="encode")
        codes = codes[0] if self.variational else codes  # A VAE's posterior mean.
        decode = lambda z: self.model.apply(variables, z, method="decode")  # noqa: E731
        pictures = {"reconstructions": jnp.stack([targets, decode(codes)])}
        if codes.shape[0] >= 2:
            pictures["interpolations"] = latent_pictures.interpolations(decode, codes)
        if self.variational:
            pictures["traversals"] = latent_pictures.traversals(decode, codes[0])
            if num_samples:
                pictures["samples"] = decode(jax.random.normal(key, (num_samples, self.config.model.latent_dim)))
        return pictures
