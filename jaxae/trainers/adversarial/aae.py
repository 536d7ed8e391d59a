"""Adversarial autoencoders (Makhzani et al., 2016) on the two-player machinery of `players`.

An MLP autoencoder whose codes a discriminator pushes towards a prior, in place of a VAE's KL:

* ``model.n_clusters = 0``: a deterministic code z [latent] matched to N(0, I); decoding prior
  draws generates digits (scored by `jaxae.metrics.frechet`, like the VAE and GAN rows);
* ``model.n_clusters = K``: the encoder's softmax y [K], matched to one-hot draws of a uniform
  categorical by one discriminator, and a style code z [latent], matched to N(0, I) by another;
  the decoder reads (y, z). argmax y clusters the digits without labels ('cluster_acc' by
  Hungarian matching, and 'purity', the paper's: each cluster takes its most frequent label).

Parameters: 'autoencoder' ({'encoder', 'decoder'}) and 'discriminator' ({'style'} or {'style',
'category'}). One step has the paper's phases, each an update with its own optimizer section:

1. reconstruction: the encoder and decoder (``autoencoder_optimizer``) on the Bernoulli likelihood
   of the grey levels;
2. regularisation, first the discriminator(s) (``discriminator_optimizer``): prior draws (real)
   against the encoder's codes (fake);
3. then the encoder alone (``encoder_optimizer``): its codes called real by the updated
   discriminator(s).

A single update of reconstruction + the adversarial term does not do: the reconstruction's
gradient (about 100 nats per image) swamps the adversarial one (about 1), and with 16 clusters the
categorical code stayed at a purity of 0.33 on mnist_5k.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxae import losses
from jaxae.config import checks
from jaxae.data.transforms import to_unit_interval
from jaxae.errors import ConfigError
from jaxae.metrics import frechet
from jaxae.metrics import clustering as cluster_metrics
from jaxae.metrics.means import masked_sums, means
from jaxae.models import COMPUTE_DTYPES, decoder_widths
from jaxae.models.gan import Discriminator
from jaxae.models.initializers import KERNEL_INITS
from jaxae.models.mlp import MLPDecoder, MLPEncoder
from jaxae.steps import rng
from jaxae.steps.rng import EVAL_STREAM, IMAGES_STREAM
from jaxae.steps.train_state import TrainState
from jaxae.trainers.adversarial import players

PLAYERS = ("autoencoder", "discriminator", "encoder")  # The encoder's optimizer moves params["autoencoder"]["encoder"].


class AAETrainer(players.ImageTrainer):
    """Builds the autoencoder, the code discriminator(s) and the three optimizers from a config."""

    player_names = PLAYERS
    guarded_metrics = ("recon", "d_loss", "e_loss", "a_grad_norm", "d_grad_norm", "e_grad_norm")

    @classmethod
    def validate_config(cls, config) -> None:
        super().validate_config(config)
        checks.choice(config, "model.weight_init", KERNEL_INITS)
        checks.widths(config, "model.hidden", allow_empty=True)
        checks.widths(config, "model.decoder_hidden", allow_empty=True)
        checks.widths(config, "model.discriminator_hidden", allow_empty=False)
        checks.number(config, "model.latent_dim", low=1, integer=True)
        checks.number(config, "model.n_clusters", low=0, integer=True)
        if config.model.n_clusters == 1:
            raise ConfigError("model.n_clusters=1 is no clustering; use 0 (a Gaussian code only) or >= 2")
        checks.choice(config, "aae.loss", losses.ADVERSARIAL_LOSSES)
        checks.number(config, "aae.d_wins_below", low=0)
        checks.boolean(config, "aae.eval_labels")

    @classmethod
    def labelled(cls, config) -> bool:
        return bool(config.model.n_clusters and config.aae.eval_labels)

    def scored_clusters(self):
        return self.n_clusters, "model.n_clusters"

    def __init__(self, config, spec, num_examples: int, *, axis_name=None):
        super().__init__(config, spec, num_examples, axis_name=axis_name)
        model, dtype = config.model, COMPUTE_DTYPES[config.compute_dtype]
        self.n_clusters, self.latent_dim = model.n_clusters, model.latent_dim
        common = dict(activation="relu", dtype=dtype, weight_init=model.weight_init)
        self.encoder = MLPEncoder(tuple(model.hidden), self.n_clusters + self.latent_dim, **common)
        self.decoder = MLPDecoder(decoder_widths(model), self.image_shape, **common)
        self.discriminator = Discriminator(tuple(model.discriminator_hidden), (), dtype=dtype,
                                           weight_init=model.weight_init)
        self.codes = ("style", "category") if self.n_clusters else ("style",)
        self.updates = {"autoencoder": ("autoencoder",), "discriminator": ("discriminator",),
                        "encoder": ("autoencoder", "encoder")}  # What each optimizer moves.

    def identity(self):
        record = self.identity_of("model.hidden", "model.decoder_hidden", "model.discriminator_hidden",
                                  "model.latent_dim", "model.n_clusters", "model.weight_init", "aae.loss", "compute_dtype")
        return record | self.optimizer_identity()

    def init(self, key) -> TrainState:
        e_key, g_key, d_key, state_key = jax.random.split(key, 4)
        params = {"autoencoder": {
            "encoder": self.encoder.init(e_key, jnp.zeros((1, *self.image_shape)))["params"],
            "decoder": self.decoder.init(g_key, jnp.zeros((1, self.n_clusters + self.latent_dim)))["params"]}}
        widths = {"style": self.latent_dim, "category": self.n_clusters}
        params["discriminator"] = {code: self.discriminator.init(jax.random.fold_in(d_key, i),
                                                                 jnp.zeros((1, widths[code])))["params"]
                                   for i, code in enumerate(self.codes)}
        extra = players.initial_loss_scales(PLAYERS) if self.loss_scaling else {}
        opt_state = {player: self.tx[player].init(players.subtree(params, path))
                     for player, path in self.updates.items()}
        return TrainState(step=jnp.zeros((), jnp.int32), key=state_key, params=params, opt_state=opt_state,
                          extra=extra)

    # ----------------------------------------------------------------------------- the model

    def encode(self, ae_params, images):
        """Raw images [batch, H, W, C] -> {'style': z [batch, latent], 'category': y [batch, K] (softmax)}."""
        out = self.encoder.apply({"params": ae_params["encoder"]}, to_unit_interval(images)).astype(jnp.float32)
        codes = {"style": out[:, self.n_clusters:]}
        if self.n_clusters:
            codes["category"] = jax.nn.softmax(out[:, :self.n_clusters])
        return codes

    def decode_logits(self, ae_params, codes):
        """Codes as `encode` gives them -> the decoder's logits [batch, H, W, C]."""
        parts = ([codes["category"]] if self.n_clusters else []) + [codes["style"]]
        return self.decoder.apply({"params": ae_params["decoder"]}, jnp.concatenate(parts, -1)).astype(jnp.float32)

    def prior_draws(self, keys):
        """[batch] keys -> codes drawn from the priors: N(0, I) styles and one-hot uniform categories."""
        style_keys, category_keys = rng.split_streams(keys, 2)
        draws = {"style": rng.normal_per_example(style_keys, (self.latent_dim,))}
        if self.n_clusters:
            categories = jax.vmap(lambda k: jax.random.randint(k, (), 0, self.n_clusters))(category_keys)
            draws["category"] = jax.nn.one_hot(categories, self.n_clusters)
        return draws

    def _judge(self, d_params, codes):
        """{code: the discriminator's logits [batch]} for each code."""
        return {code: self.discriminator.apply({"params": d_params[code]}, codes[code])[0] for code in self.codes}

    # ----------------------------------------------------------------------------- the step

    def train_step(self, state: TrainState, batch):
        """Reconstruction, then the discriminator(s), then the encoder against them (module docstring)."""
        images, cfg = batch["image"], self.config.aae
        size = images.shape[0]
        keys = rng.example_keys(jax.random.fold_in(state.key, state.step), size, rng.batch_offset(size, self.axis_name))
        targets = to_unit_interval(images)

        def reconstruction(ae_params):
            logits = self.decode_logits(ae_params, self.encode(ae_params, images))
            recon = jnp.mean(losses.bce_with_logits(logits, targets))
            return recon * players.loss_scale(self, state, "autoencoder"), {"recon": recon, "loss": recon}

        grads, metrics = jax.grad(reconstruction, has_aux=True)(state.params["autoencoder"])
        state, metrics = players.update(self, "autoencoder", state, grads, metrics)

        prior = self.prior_draws(keys)
        codes = jax.lax.stop_gradient(self.encode(state.params["autoencoder"], images))

        def discrimination(d_params):
            real, fake = self._judge(d_params, prior), self._judge(d_params, codes)
            parts = {code: jnp.mean(losses.discriminator_loss(real[code], fake[code], kind=cfg.loss)) for code in real}
            loss = sum(parts.values())
            own = {f"d_{code}": value for code, value in parts.items()} if self.n_clusters else {}
            return loss * players.loss_scale(self, state, "discriminator"), own | {"d_loss": loss, "loss": loss}

        grads, d_metrics = jax.grad(discrimination, has_aux=True)(state.params["discriminator"])
        state, d_metrics = players.update(self, "discriminator", state, grads, d_metrics)
        ae_params, d_params = state.params["autoencoder"], state.params["discriminator"]

        def regularisation(encoder_params):
            judged = self._judge(d_params, self.encode({**ae_params, "encoder": encoder_params}, images))
            loss = sum(jnp.mean(losses.generator_loss(judged[code], kind=cfg.loss)) for code in judged)
            return loss * players.loss_scale(self, state, "encoder"), {"e_loss": loss, "loss": loss}

        grads, e_metrics = jax.grad(regularisation, has_aux=True)(ae_params["encoder"])
        state, e_metrics = players.update(self, "encoder", state, grads, e_metrics, at=self.updates["encoder"])
        return state.replace(step=state.step + 1), players.merge_skips(metrics | d_metrics | e_metrics, PLAYERS)

    def diagnose(self, means):
        return players.discriminator_won(means, self.config.aae.d_wins_below,
                                         advice="lower discriminator_optimizer.learning_rate")

    # ----------------------------------------------------------------------------- evaluation

    def eval_step(self, state, batch, mask):
        """Reconstruction sums; feature sums of the digits and of as many decoded prior draws; the
        label x cluster contingency matrix with n_clusters and labels."""
        ae_params, images = state.params["autoencoder"], batch["image"]
        targets = to_unit_interval(images)
        codes = self.encode(ae_params, images)
        logits = self.decode_logits(ae_params, codes)
        sums = masked_sums({"bce": losses.bce_with_logits(logits, targets),
                            "mse": losses.mse(jax.nn.sigmoid(logits), targets)}, mask)
        if frechet.applies(self.image_shape):
            draws = self.prior_draws(rng.keys_for(jax.random.fold_in(state.key, EVAL_STREAM), batch["index"]))
            samples = jax.nn.sigmoid(self.decode_logits(ae_params, draws))
            sums["frechet"] = frechet.pair_sums(targets, samples, mask)
        if "label" in batch:
            clusters = jnp.argmax(codes["category"], axis=-1)
            sums["contingency"] = cluster_metrics.contingency(batch["label"], clusters, self.label_rows,
                                                              self.n_clusters, mask)
        return sums

    def eval_report(self, sums):
        report = means(sums, ["bce", "mse"])
        if "frechet" in sums:
            report |= frechet.pair_report(sums["frechet"])
        if "contingency" in sums:
            table = sums["contingency"]
            report |= cluster_metrics.scores(table) | {"purity": cluster_metrics.purity(table)}
        return report

    def pictures(self, state, batch, num_samples: int):
        """Test digits over their reconstructions [2, n, ...]; decoded prior draws [num_samples, ...];
        with clusters, 'clusters' [K, 8, ...]: a row per category, a column per style draw."""
        ae_params = state.params["autoencoder"]
        targets = to_unit_interval(batch["image"])
        decode = lambda codes: jax.nn.sigmoid(self.decode_logits(ae_params, codes))
        pictures = {"reconstructions": jnp.stack([targets, decode(self.encode(ae_params, batch["image"]))])}
        key = jax.random.fold_in(state.key, IMAGES_STREAM)
        if num_samples:
            pictures["samples"] = decode(self.prior_draws(rng.example_keys(key, num_samples)))
        if self.n_clusters:
            styles = self.prior_draws(rng.example_keys(jax.random.fold_in(key, 1), 8))["style"]
            codes = {"style": jnp.tile(styles, (self.n_clusters, 1)),
                     "category": jnp.repeat(jnp.eye(self.n_clusters), 8, axis=0)}
            pictures["clusters"] = decode(codes).reshape(self.n_clusters, 8, *self.image_shape)
        return pictures

    def inference(self, state, mesh):
        from jaxae.trainers.adversarial.aae_inference import TrainedAAE

        return TrainedAAE(self, state, mesh)
