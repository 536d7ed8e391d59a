"""Train and eval steps for the autoencoder family: plain, denoising, sparse, VAE and beta-VAE.

Which of these a run is follows from the config alone: ``model.name`` ('ae' or 'vae'),
``noise.kind`` (denoising), the sparsity weights in ``loss`` and ``loss.beta``/``kl_warmup_steps``.
Steps are ``(state, batch) -> (state, metrics)`` with no side effects, so they run under
``jit``, sharded ``jit``, ``pmap`` and inside ``lax.scan`` unchanged. Every random draw is made
per example (`jaxae.rng`), so it does not depend on how the batch is split over devices.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import optax

from jaxae import corruptions, loss_scaling, losses, rng
from jaxae.data.transforms import binarize, to_unit_interval
from jaxae.models import build_model
from jaxae.optimizers import build_optimizer
from jaxae.train_state import TrainState

RECONSTRUCTION_LOSSES = ("bce", "mse")
# Train steps fold their step number into the key; these values lie beyond any step count, so
# eval and picture draws never reuse a training draw.
EVAL_STREAM = 2**32 - 1
IMAGES_STREAM = 2**32 - 2


class AutoencoderTrainer:
    """Builds the model and optimizer from a config and offers the pure step functions.

    Args:
      config: the run's ConfigDict (model, loss, noise, data, optimizer, ...).
      image_shape: (height, width, channels) of one example.
      num_steps: total number of updates (for learning-rate schedules).
      axis_name: the mapped device axis under `pmap` (gradients and metrics are averaged over
        it); None under `jit`, where XLA inserts the all-reduce itself.
    """

    def __init__(self, config, image_shape, num_steps: int, axis_name: str | None = None):
        self.config = config
        self.image_shape = tuple(image_shape)
        self.model = build_model(config.model, image_shape, config.compute_dtype)
        self.tx = build_optimizer(config.optimizer, num_steps)
        self.variational = config.model.name == "vae"
        self.loss_scaling = config.compute_dtype == "float16"
        self.axis_name = axis_name

    # ----------------------------------------------------------------------------- state

    def init(self, key) -> TrainState:
        """key -> a fresh TrainState. Pure: run it under `jit` (or `eval_shape` for the layout)."""
        init_key, state_key = jax.random.split(key)
        dummy = jnp.zeros((1, *self.image_shape), jnp.float32)
        params = self.model.init({"params": init_key, "sample": init_key}, dummy)["params"]
        extra = loss_scaling.initial_state() if self.loss_scaling else {}
        return TrainState(step=jnp.zeros((), jnp.int32), key=state_key, params=params,
                          opt_state=self.tx.init(params), extra=extra)

    # ----------------------------------------------------------------------------- inputs

    def _check_images(self, images) -> None:
        """Trace-time check that a batch is [batch, H, W, C] of this trainer's image shape."""
        chex.assert_rank(images, 4)
        chex.assert_shape(images, (None, *self.image_shape))

    def _example_keys(self, key, batch_size: int, streams: int, offset):
        """[streams] arrays of [batch] keys: independent per-example draws, whatever the sharding.

        offset: index of this batch's first example (in the global batch, or in the eval split).
        """
        keys = rng.example_keys(key, batch_size, offset)
        split = jax.vmap(lambda k: jax.random.split(k, streams))(keys)
        return [split[:, i] for i in range(streams)]

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

    def loss_fn(self, params, targets, inputs, eps, step):
        """Scalar training loss and its parts. targets, inputs: [batch, H, W, C] (inputs maybe corrupted)."""
        cfg = self.config.loss
        reconstruction, aux = self.apply(params, inputs, eps, train=True)
        recon = self.reconstruction_nll(reconstruction, aux, targets)
        metrics = {"recon": jnp.mean(recon)}
        loss = metrics["recon"]
        if self.variational:
            kl = jnp.mean(losses.gaussian_kl(aux["mu"], aux["logvar"]))
            beta = self._beta(step)
            loss = loss + beta * kl
            metrics.update(kl=kl, beta=beta, neg_elbo=metrics["recon"] + kl)
        penalty = jnp.zeros((), jnp.float32)
        if cfg.l1_weight:
            penalty += cfg.l1_weight * losses.l1_penalty(params)
        if cfg.l2_weight:
            penalty += cfg.l2_weight * losses.l2_penalty(params)
        if cfg.activity_l1:
            penalty += cfg.activity_l1 * jnp.mean(losses.l1_activity(aux["z"]))
        if cfg.kl_sparsity_weight:
            # The code passes through a sigmoid so each unit's mean activation is a rate in (0, 1).
            rho_hat = jnp.mean(jax.nn.sigmoid(aux["z"]), axis=0)
            penalty += cfg.kl_sparsity_weight * jnp.sum(losses.kl_sparsity(rho_hat, target=cfg.kl_sparsity_target))
        if cfg.l1_weight or cfg.l2_weight or cfg.activity_l1 or cfg.kl_sparsity_weight:
            metrics["penalty"] = penalty
            loss = loss + penalty
        metrics["loss"] = loss
        return loss, metrics

    # ----------------------------------------------------------------------------- steps

    def train_step(self, state: TrainState, batch):
        """One update. batch: {'image': [batch, H, W, C] raw, ...} -> (new state, scalar metrics)."""
        images = batch["image"]
        self._check_images(images)
        binarize_keys, noise_keys, sample_keys = self._example_keys(
            jax.random.fold_in(state.key, state.step), images.shape[0], 3,
            rng.batch_offset(images.shape[0], self.axis_name))
        targets = self.model_inputs(images, binarize_keys)
        noise = self.config.noise
        inputs = rng.per_example(lambda k, x: corruptions.corrupt(k, x, kind=noise.kind, level=noise.level),
                                 noise_keys, targets)
        eps = rng.normal_per_example(sample_keys, (self.config.model.latent_dim,)) if self.variational else None

        scale = state.extra["loss_scale"] if self.loss_scaling else 1.0

        def scaled_loss(params):
            loss, metrics = self.loss_fn(params, targets, inputs, eps, state.step)
            return loss * scale, metrics

        (_, metrics), grads = jax.value_and_grad(scaled_loss, has_aux=True)(state.params)
        if self.axis_name is not None:
            grads = jax.lax.pmean(grads, self.axis_name)
            metrics = jax.lax.pmean(metrics, self.axis_name)
        if self.loss_scaling:
            grads = loss_scaling.unscale(grads, state.extra)
        updates, opt_state = self.tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        metrics["grad_norm"] = optax.global_norm(grads)
        extra = state.extra
        if self.loss_scaling or self.config.nonfinite == "skip":
            # A non-finite loss or gradient skips the update: parameters and optimizer state are kept,
            # the step is counted in 'skipped', and its other metrics are left out of the averages.
            # The norm too: finite gradients whose squares overflow make a useless update.
            finite = loss_scaling.all_finite(grads) & jnp.isfinite(metrics["loss"]) & jnp.isfinite(metrics["grad_norm"])
            keep = lambda new, old: jax.tree.map(lambda n, o: jnp.where(finite, n, o), new, old)
            params, opt_state = keep(params, state.params), keep(opt_state, state.opt_state)
            metrics = {name: jnp.where(finite, value, 0.0) for name, value in metrics.items()}
            metrics["skipped"] = 1.0 - finite.astype(jnp.float32)
            if self.loss_scaling:  # An overflow also halves the scale.
                extra = {**extra, **loss_scaling.update(state.extra, finite)}
                metrics["loss_scale"] = state.extra["loss_scale"]
        new_state = state.replace(step=state.step + 1, params=params, opt_state=opt_state, extra=extra)
        return new_state, metrics

    def eval_step(self, state: TrainState, batch, mask, offset=0):
        """Sums of per-example eval metrics over the unmasked examples.

        Args:
          batch: {'image': [batch, H, W, C] raw}.
          mask: [batch] float, 1 for real examples and 0 for padding.
          offset: index of the batch's first example in the split, so every example has its own draws.
        Returns:
          {name: scalar sum}, including 'count'; the loop divides by the count at the end.
        """
        images = batch["image"]
        self._check_images(images)
        binarize_keys, sample_keys = self._example_keys(
            jax.random.fold_in(state.key, EVAL_STREAM), images.shape[0], 2, jnp.asarray(offset, jnp.uint32))
        targets = self.model_inputs(images, binarize_keys)
        eps = rng.normal_per_example(sample_keys, (self.config.model.latent_dim,)) if self.variational else None
        reconstruction, aux = self.apply(state.params, targets, eps, train=False)
        per_example = {"mse": losses.mse(reconstruction, targets)}
        if self.config.model.output_activation == "sigmoid":
            per_example["bce"] = losses.bce_with_logits(aux["logits"], targets)
        if self.variational:
            per_example["recon"] = self.reconstruction_nll(reconstruction, aux, targets)
            per_example["kl"] = losses.gaussian_kl(aux["mu"], aux["logvar"])
            per_example["neg_elbo"] = per_example["recon"] + per_example["kl"]
        sums = {name: jnp.sum(value * mask) for name, value in per_example.items()}
        sums["count"] = jnp.sum(mask)
        return sums

    def image_grids(self, state: TrainState, images, num_samples: int):
        """Pictures for an eval: originals over their reconstructions, and prior samples for a VAE.

        Args:
          images: [n, H, W, C] raw test images.
        Returns:
          {'reconstructions': [2n, H, W, C], 'samples': [num_samples, H, W, C]} in [0, 1].
        """
        key = jax.random.fold_in(state.key, IMAGES_STREAM)
        targets = self.model_inputs(images, rng.example_keys(key, images.shape[0]))
        variables = {"params": state.params}
        if self.variational:
            mu, _ = self.model.apply(variables, targets, method="encode")
            recon = self.model.apply(variables, mu, method="decode")
        else:
            recon, _ = self.model.apply(variables, targets, train=False)
        grids = {"reconstructions": jnp.concatenate([targets, recon])}
        if self.variational:
            z = jax.random.normal(key, (num_samples, self.config.model.latent_dim))
            grids["samples"] = self.model.apply(variables, z, method="decode")
        return grids
