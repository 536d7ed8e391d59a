"""The GAN family: GAN (MLP players), DCGAN (convolutional players) and InfoGAN, on the Trainer contract.

Two players in one state: ``params`` and ``opt_state`` are {'generator': ..., 'discriminator': ...},
each player with its own optimizer section (``generator_optimizer``, ``discriminator_optimizer``);
the players' BatchNorm running averages are in ``extra['batch_stats']`` ({player: ...}), and under
float16 each player has its own loss scale (``extra['loss_scale']``). One train step is

1. the discriminator phase, `gan.n_critic` updates of the discriminator's parameters only: real
   digits against generated ones (the generator held fixed), plus InfoGAN's -lambda * I(c; G(z, c))
   bound and the R1 penalty where configured;
2. the generator phase, one update of the generator's parameters only, through the discriminator as
   the first phase left it: to be called real (and, for InfoGAN, to keep its codes recoverable).

The generator runs forward once for both phases (its fakes serve the first critic update and its
own gradient, as PyTorch's DCGAN example does); further critic updates draw fresh latents on the
same real batch. Images are scaled to [-1, 1]; every random draw is per example (`jaxae.steps.rng`).

Evaluation compares the test digits with as many generated ones in the feature space of jaxae's own
digit classifier (`jaxae.metrics.frechet`: 'frechet', 'modes', 'diversity'; 28x28 grey images only) and,
for InfoGAN, scores Q's categorical code as a clustering of the test digits ('code_acc' by Hungarian
matching, 'code_nmi'). A discriminator that wins outright stops the run (`diagnose`).
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from jaxae import losses
from jaxae.config import checks
from jaxae.data.transforms import to_unit_interval
from jaxae.devices import parallel
from jaxae.errors import ConfigError
from jaxae.metrics import frechet
from jaxae.metrics import clustering as cluster_metrics
from jaxae.metrics.means import masked_sums, means
from jaxae.models import COMPUTE_DTYPES, conv_ops
from jaxae.models.conv import bottleneck_shape
from jaxae.models.gan import Discriminator, Generator
from jaxae.models.initializers import KERNEL_INITS
from jaxae.steps import rng
from jaxae.steps.rng import EVAL_STREAM, IMAGES_STREAM
from jaxae.steps.train_state import TrainState
from jaxae.trainers.adversarial import players

PLAYERS = ("generator", "discriminator")
NOISE = ("normal", "uniform")


class GANTrainer(players.ImageTrainer):
    """Builds the two players and their optimizers from a config and offers the pure steps."""

    player_names = PLAYERS
    guarded_metrics = ("d_loss", "g_loss", "d_grad_norm", "g_grad_norm")

    @classmethod
    def validate_config(cls, config) -> None:
        super().validate_config(config)
        checks.choice(config, "model.architecture", ("mlp", "conv"))
        checks.choice(config, "model.noise", NOISE)
        checks.choice(config, "model.weight_init", KERNEL_INITS)
        checks.choice(config, "model.conv_impl", conv_ops.IMPLEMENTATIONS)
        for field in ("model.noise_dim", "model.q_hidden"):
            checks.number(config, field, low=1, integer=True)
        for field in ("model.categorical_codes", "model.continuous_codes"):
            checks.number(config, field, low=0, integer=True)
        if config.model.categorical_codes == 1:
            raise ConfigError("model.categorical_codes=1 carries no information; use 0 (none) or >= 2")
        for field in ("model.generator_hidden", "model.discriminator_hidden"):
            checks.widths(config, field, allow_empty=True)
        checks.widths(config, "model.channels", allow_empty=config.model.architecture == "mlp")
        checks.boolean(config, "model.batch_norm")
        checks.boolean(config, "model.discriminator_batch_norm")
        checks.number(config, "model.negative_slope", low=0, high=1)
        checks.choice(config, "gan.loss", losses.ADVERSARIAL_LOSSES)
        checks.number(config, "gan.label_smoothing", low=0, high=0.5)
        if config.gan.label_smoothing and config.gan.loss == "hinge":
            raise ConfigError("gan.label_smoothing applies to the cross-entropy and least-squares losses, not "
                              "gan.loss='hinge'; set it to 0")
        checks.number(config, "gan.r1_weight", low=0)
        if config.gan.r1_weight and config.model.discriminator_batch_norm:
            raise ConfigError("gan.r1_weight needs a discriminator whose logits are per example; with "
                              "model.discriminator_batch_norm=True they mix the batch: turn one of them off")
        checks.number(config, "gan.n_critic", low=1, integer=True)
        for field in ("gan.categorical_weight", "gan.continuous_weight", "gan.d_wins_below"):
            checks.number(config, field, low=0)
        checks.boolean(config, "gan.eval_labels")

    @classmethod
    def labelled(cls, config) -> bool:
        return bool(config.model.categorical_codes and config.gan.eval_labels)

    def scored_clusters(self):
        return self.categorical, "model.categorical_codes"

    def __init__(self, config, spec, num_examples: int, *, axis_name=None):
        super().__init__(config, spec, num_examples, axis_name=axis_name)
        model, dtype = config.model, COMPUTE_DTYPES[config.compute_dtype]
        channels = tuple(model.channels) if model.architecture == "conv" else ()
        if channels:
            bottleneck_shape(self.image_shape, channels)  # A ConfigError before any tracing.
        impl = conv_ops.resolve(model.conv_impl)
        self.categorical, self.continuous = model.categorical_codes, model.continuous_codes
        self.latent_dim = model.noise_dim + self.categorical + self.continuous
        self.generator = Generator(tuple(model.generator_hidden), channels, self.image_shape, model.batch_norm,
                                   axis_name, impl, dtype, model.weight_init)
        self.discriminator = Discriminator(tuple(model.discriminator_hidden), channels,
                                           self.categorical + self.continuous, model.q_hidden, model.negative_slope,
                                           model.discriminator_batch_norm, axis_name, impl, dtype, model.weight_init)
        self.modules = {"generator": self.generator, "discriminator": self.discriminator}
        self.frechet = frechet.applies(self.image_shape)

    def identity(self):
        model_fields = ["architecture", "noise_dim", "noise", "categorical_codes", "continuous_codes",
                        "generator_hidden", "discriminator_hidden", "batch_norm", "discriminator_batch_norm", "q_hidden",
                        "negative_slope", "weight_init"]
        if self.config.model.architecture == "conv":
            model_fields.append("channels")
        return (self.identity_of(*(f"model.{name}" for name in model_fields), "gan.loss", "compute_dtype")
                | self.optimizer_identity())

    # ----------------------------------------------------------------------------- state

    def init(self, key) -> TrainState:
        g_key, d_key, state_key = jax.random.split(key, 3)
        g_vars = self.generator.init(g_key, jnp.zeros((1, self.latent_dim)), train=False)
        d_vars = self.discriminator.init(d_key, jnp.zeros((1, *self.image_shape)))
        params = {"generator": g_vars["params"], "discriminator": d_vars["params"]}
        stats = {name: v["batch_stats"] for name, v in (("generator", g_vars), ("discriminator", d_vars))
                 if "batch_stats" in v}
        extra = {"batch_stats": stats} if stats else {}
        if self.loss_scaling:
            extra |= players.initial_loss_scales(PLAYERS)
        return TrainState(step=jnp.zeros((), jnp.int32), key=state_key, params=params,
                          opt_state={player: self.tx[player].init(params[player]) for player in PLAYERS}, extra=extra)

    # ----------------------------------------------------------------------------- the players

    def sample_latents(self, keys):
        """[batch] keys -> (latents [batch, latent], categorical codes [batch] int or None, continuous
        codes [batch, J] or None): noise, then the one-hot categorical code, then the continuous codes."""
        noise_keys, categorical_keys, continuous_keys = rng.split_streams(keys, 3)
        if self.config.model.noise == "uniform":
            noise = jax.vmap(lambda k: jax.random.uniform(k, (self.config.model.noise_dim,), minval=-1.0))(noise_keys)
        else:
            noise = rng.normal_per_example(noise_keys, (self.config.model.noise_dim,))
        parts, categorical, continuous = [noise], None, None
        if self.categorical:
            categorical = jax.vmap(lambda k: jax.random.randint(k, (), 0, self.categorical))(categorical_keys)
            parts.append(jax.nn.one_hot(categorical, self.categorical))
        if self.continuous:
            continuous = jax.vmap(lambda k: jax.random.uniform(k, (self.continuous,), minval=-1.0))(continuous_keys)
            parts.append(continuous)
        return jnp.concatenate(parts, axis=-1), categorical, continuous

    def run(self, player: str, params, stats, inputs, *, train: bool):
        """`player` on `inputs` -> (its outputs, its BatchNorm statistics: updated when training, else
        as given; None without BatchNorm). In training BatchNorm uses the global batch's moments."""
        variables = {"params": params} | ({} if stats is None else {"batch_stats": stats})
        if not train or stats is None:
            return self.modules[player].apply(variables, inputs, train=train), stats
        outputs, updates = self.modules[player].apply(variables, inputs, train=True, mutable=["batch_stats"])
        return outputs, updates["batch_stats"]

    @staticmethod
    def stats(state, player: str):
        """`player`'s BatchNorm running averages in the state, or None."""
        return state.extra.get("batch_stats", {}).get(player)

    @staticmethod
    def with_stats(state, player: str, stats):
        if stats is None:
            return state
        return state.replace(extra={**state.extra, "batch_stats": {**state.extra["batch_stats"], player: stats}})

    def generate(self, state, latents, *, train: bool):
        """latents [batch, latent] -> (images [batch, H, W, C] in [-1, 1], generator statistics or None)."""
        return self.run("generator", state.params["generator"], self.stats(state, "generator"), latents, train=train)

    def judge(self, d_params, stats, images, *, train: bool):
        """images [batch, H, W, C] -> (logits [batch], (Q's outputs or None, discriminator statistics))."""
        (logits, q), stats = self.run("discriminator", d_params, stats, images, train=train)
        return logits, (q, stats)

    def generated_images(self, state, latents):
        """latents [batch, latent] -> the generator's images [batch, H, W, C] in [0, 1], in eval mode."""
        return (self.generate(state, latents, train=False)[0] + 1) / 2

    def judged(self, state, images):
        """images [batch, H, W, C] in [-1, 1] -> (the discriminator's logits [batch], Q's outputs or
        None), in eval mode."""
        logits, (q, _) = self.judge(state.params["discriminator"], self.stats(state, "discriminator"), images,
                                    train=False)
        return logits, q

    def information(self, q, categorical, continuous):
        """InfoGAN's bounds per example: ({name: [batch]}, weighted sum [batch]) from Q's outputs."""
        parts, total = {}, 0.0
        if self.categorical:
            parts["mi_categorical"] = losses.categorical_information(q[:, :self.categorical], categorical)
            total = total + self.config.gan.categorical_weight * parts["mi_categorical"]
        if self.continuous:
            parts["mi_continuous"] = losses.uniform_code_information(q[:, self.categorical:], continuous)
            total = total + self.config.gan.continuous_weight * parts["mi_continuous"]
        return parts, total

    def discriminator_phase(self, state, real, fake, categorical=None, continuous=None):
        """One update of the discriminator (and Q) on real [batch, H, W, C] against fake, in [-1, 1]."""
        cfg = self.config.gan
        fake = jax.lax.stop_gradient(fake)
        scale = players.loss_scale(self, state, "discriminator")

        stats = self.stats(state, "discriminator")

        def objective(d_params):
            # Real and generated digits go through separately (each batch normalised by its own
            # moments, as in DCGAN); the statistics are updated by both passes in turn.
            judge = lambda x, stats: self.judge(d_params, stats, x, train=True)
            if cfg.r1_weight:
                real_logits, logits_vjp, (_, new_stats) = jax.vjp(lambda x: judge(x, stats), real, has_aux=True)
                (real_grads,) = logits_vjp(jnp.ones_like(real_logits))
            else:
                real_logits, (_, new_stats) = judge(real, stats)
            fake_logits, (q, new_stats) = judge(fake, new_stats)
            adversarial = jnp.mean(losses.discriminator_loss(real_logits, fake_logits, kind=cfg.loss,
                                                             real_label=1.0 - cfg.label_smoothing))
            metrics = {"d_loss": adversarial, "real_logit": jnp.mean(real_logits), "fake_logit": jnp.mean(fake_logits)}
            loss = adversarial
            if cfg.r1_weight:
                metrics["r1"] = jnp.mean(losses.squared_gradient_norm(real_grads))
                loss = loss + 0.5 * cfg.r1_weight * metrics["r1"]
            if q is not None:
                parts, total = self.information(q, categorical, continuous)
                metrics |= {name: jnp.mean(value) for name, value in parts.items()}
                loss = loss - jnp.mean(total)
            return loss * scale, (metrics | {"loss": loss}, new_stats)

        grads, (metrics, new_stats) = jax.grad(objective, has_aux=True)(state.params["discriminator"])
        return players.update(self, "discriminator", self.with_stats(state, "discriminator", new_stats), grads, metrics)

    def generator_phase(self, state, fake, fake_vjp, categorical=None, continuous=None):
        """One update of the generator through the current discriminator.

        fake: [batch, H, W, C] the generator's images; fake_vjp: their VJP to the generator's
        parameters (from `jax.vjp`), so the generator does not run forward again.
        """
        cfg = self.config.gan
        scale = players.loss_scale(self, state, "generator")
        d_params, stats = state.params["discriminator"], self.stats(state, "discriminator")

        def objective(images):
            logits, (q, new_stats) = self.judge(d_params, stats, images, train=True)
            adversarial = jnp.mean(losses.generator_loss(logits, kind=cfg.loss))
            metrics, loss = {"g_loss": adversarial}, adversarial
            if q is not None:
                loss = loss - jnp.mean(self.information(q, categorical, continuous)[1])
            return loss * scale, (metrics | {"loss": loss}, new_stats)

        fake_grads, (metrics, new_stats) = jax.grad(objective, has_aux=True)(fake)
        (grads,) = fake_vjp(fake_grads)
        return players.update(self, "generator", self.with_stats(state, "discriminator", new_stats), grads, metrics)

    # ----------------------------------------------------------------------------- the step

    def real_images(self, images):
        """Raw images [batch, H, W, C] -> float32 in [-1, 1]; trace-time check of their shape."""
        chex.assert_rank(images, 4)
        chex.assert_shape(images, (None, *self.image_shape))
        return to_unit_interval(images) * 2.0 - 1.0

    def train_step(self, state: TrainState, batch):
        """The discriminator phase, then the generator phase (see the module docstring)."""
        real = self.real_images(batch["image"])
        size = real.shape[0]
        keys = rng.example_keys(jax.random.fold_in(state.key, state.step), size, rng.batch_offset(size, self.axis_name))
        latents, categorical, continuous = self.sample_latents(keys)
        generate = lambda g_params: self.run("generator", g_params, self.stats(state, "generator"), latents, train=True)
        fake, fake_vjp, g_stats = jax.vjp(generate, state.params["generator"], has_aux=True)
        old_stats, critic_skips = state.extra.get("batch_stats"), []
        for critic in range(self.config.gan.n_critic):
            if critic:  # Fresh latents for each further critic update, on the same real batch.
                critic_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(keys, critic)
                critic_latents, critic_categorical, critic_continuous = self.sample_latents(critic_keys)
                critic_fake = self.generate(state, critic_latents, train=True)[0]
                state, metrics = self.discriminator_phase(state, real, critic_fake, critic_categorical,
                                                          critic_continuous)
            else:
                state, metrics = self.discriminator_phase(state, real, fake, categorical, continuous)
            critic_skips.append(metrics.get("d_skipped"))
        if critic_skips[0] is not None:  # Any critic update skipped counts (the metrics are the last's).
            metrics["d_skipped"] = jnp.max(jnp.stack(critic_skips))
        state, g_metrics = self.generator_phase(state, fake, fake_vjp, categorical, continuous)
        metrics |= g_metrics
        # The generated images' spread over the global batch, per pixel: it falls under mode collapse.
        mean = parallel.batch_mean(fake, self.axis_name)
        spread = parallel.batch_mean(jnp.square(fake), self.axis_name) - jnp.square(mean)
        metrics["sample_std"] = jnp.mean(jnp.sqrt(jnp.maximum(spread, 0.0)))
        state = self.with_stats(state, "generator", g_stats)
        metrics = players.merge_skips(metrics, PLAYERS)
        if "skipped" in metrics and old_stats is not None:  # A skipped step leaves the statistics too.
            keep = lambda old, new: jnp.where(metrics["skipped"] > 0, old, new)
            state = state.replace(extra={**state.extra, "batch_stats": jax.tree.map(keep, old_stats,
                                                                                    state.extra["batch_stats"])})
        return state.replace(step=state.step + 1), metrics

    def diagnose(self, means: dict) -> str | None:
        """A discriminator whose window-mean loss fell below `gan.d_wins_below` has won outright."""
        return players.discriminator_won(
            means, self.config.gan.d_wins_below, advice="lower discriminator_optimizer.learning_rate, or use "
            "gan.label_smoothing or gan.r1_weight")

    # ----------------------------------------------------------------------------- evaluation

    def eval_latents(self, state, index):
        """Each eval example's latents, from its index alone (any batch size or device count)."""
        return self.sample_latents(rng.keys_for(jax.random.fold_in(state.key, EVAL_STREAM), index))

    def eval_step(self, state, batch, mask):
        """Feature sums of the real and of as many generated digits, the mean sigmoid of the
        discriminator's logits on each ('d_real', 'd_fake': its probability of "real" for the
        cross-entropy losses), and for InfoGAN the label x code contingency matrix."""
        real = self.real_images(batch["image"])
        latents, _, _ = self.eval_latents(state, batch["index"])
        fake = self.generate(state, latents, train=False)[0]
        (real_logits, q), (fake_logits, _) = self.judged(state, real), self.judged(state, fake)
        sums = masked_sums({"d_real": jax.nn.sigmoid(real_logits), "d_fake": jax.nn.sigmoid(fake_logits)}, mask)
        if self.frechet:
            sums["frechet"] = frechet.pair_sums((real + 1) / 2, (fake + 1) / 2, mask)
        if "label" in batch:
            codes = jnp.argmax(q[:, :self.categorical], axis=-1)
            sums["codes"] = cluster_metrics.contingency(batch["label"], codes, self.label_rows,
                                                        self.categorical, mask)
        return sums

    def eval_report(self, sums) -> dict[str, float]:
        report = means(sums, ["d_real", "d_fake"])
        if "frechet" in sums:
            report |= frechet.pair_report(sums["frechet"])
        if "codes" in sums:
            scores = cluster_metrics.scores(sums["codes"])
            report |= {"code_acc": scores["cluster_acc"], "code_nmi": scores["nmi"]}
        return report

    def pictures(self, state, batch, num_samples: int):
        """'samples' [num_samples, H, W, C] from the same latents at every eval; for InfoGAN
        'categories' [K, 8, ...] (a row per categorical value, a column per noise; with a categorical
        code) and 'code_j' [max(K, 1), 9, ...] (continuous code j from -2 to 2 along a row, one noise
        throughout)."""
        del batch
        key = jax.random.fold_in(state.key, IMAGES_STREAM)
        pictures = {}
        if num_samples:
            latents = self.sample_latents(rng.example_keys(key, num_samples))[0]
            pictures["samples"] = self.generated_images(state, latents)
        if not (self.categorical or self.continuous):
            return pictures
        noise = self.sample_latents(rng.example_keys(jax.random.fold_in(key, 1), 8))[0][:, :self.config.model.noise_dim]
        rows = max(self.categorical, 1)
        one_hot = jnp.eye(rows)[:, :self.categorical]  # [rows, K]: [1, 0] without a categorical code.

        def grid(noise_rows, continuous_rows):  # [rows, columns, ...] latents -> images
            columns = noise_rows.shape[1]
            categories = jnp.broadcast_to(one_hot[:, None], (rows, columns, self.categorical))
            latents = jnp.concatenate([noise_rows, categories, continuous_rows], -1).reshape(rows * columns, -1)
            return self.generated_images(state, latents).reshape(rows, columns, *self.image_shape)

        if self.categorical:
            zeros = jnp.zeros((rows, 8, self.continuous))
            pictures["categories"] = grid(jnp.broadcast_to(noise[None], (rows, *noise.shape)), zeros)
        values = jnp.linspace(-2.0, 2.0, 9)
        for j in range(self.continuous):
            continuous = jnp.zeros((rows, 9, self.continuous)).at[:, :, j].set(values)
            pictures[f"code_{j + 1}"] = grid(jnp.broadcast_to(noise[0], (rows, 9, noise.shape[-1])), continuous)
        return pictures

    def inference(self, state, mesh):
        from jaxae.trainers.adversarial.gan_inference import TrainedGAN

        return TrainedGAN(self, state, mesh)
