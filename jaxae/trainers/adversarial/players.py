"""What the two-player families (GAN, InfoGAN, adversarial autoencoders) share: one guarded update
per player, each with its own optimizer and float16 loss scale, and the diagnosis of a
discriminator that has won outright.

The state's ``params`` and ``opt_state`` are {player: ...}; with float16 compute,
``extra['loss_scale']`` is {player: loss-scaling state}. A trainer using these offers ``tx``
({player: optax transformation}), ``axis_name``, ``loss_scaling`` and ``config.nonfinite``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxae.metrics import clustering as cluster_metrics
from jaxae.steps import loss_scaling, optimizers
from jaxae.steps.updates import guarded_update
from jaxae.trainers.base import Trainer

# guarded_update's metrics, recorded with the player's initial: '<p>_objective' is the whole loss
# the player minimises, next to the family's own names for its parts.
UPDATE_METRICS = {"loss": "objective", "grad_norm": "grad_norm", "skipped": "skipped", "loss_scale": "loss_scale"}


class ImageTrainer(Trainer):
    """What the adversarial image families share: an optimizer section '<player>_optimizer' for each
    of `player_names`, images in training, their labels in evaluation where `labelled` says so."""

    player_names: tuple[str, ...] = ()

    @classmethod
    def validate_config(cls, config) -> None:
        super().validate_config(config)
        for player in cls.player_names:
            optimizers.validate(config, f"{player}_optimizer")

    @classmethod
    def labelled(cls, config) -> bool:
        """Whether the eval split's labels are read (to score a clustering)."""
        return False

    @classmethod
    def train_fields(cls, config) -> dict[str, str]:
        return {"image": "image"}

    @classmethod
    def eval_fields(cls, config) -> dict[str, str]:
        return {"image": "image"}

    @classmethod
    def optional_eval_fields(cls, config) -> dict[str, str]:
        """Labels to score the family's categorical code or clusters against, where the eval split has them."""
        return {"label": "label"} if cls.labelled(config) else {}

    def __init__(self, config, spec, num_examples: int, *, axis_name=None):
        super().__init__(config, spec, num_examples, axis_name=axis_name)
        self.image_shape = tuple(spec["image"].shape)
        self.tx = {player: optimizers.build_optimizer(config[f"{player}_optimizer"], self.num_steps)
                   for player in self.player_names}
        self.loss_scaling = config.compute_dtype == "float16"

    def scored_clusters(self) -> tuple[int, str]:
        """(the clusters the eval scores against labels, the config field that sets them)."""
        raise NotImplementedError

    @property
    def every_step_metrics(self) -> tuple[str, ...]:
        """The skip count, and each player's loss scale under float16 ('g_loss_scale', ...)."""
        return ("skipped", *(f"{player[0]}_loss_scale" for player in self.player_names))

    @property
    def label_rows(self) -> int:
        """Rows of the eval's label x cluster contingency matrix (`metrics.clustering.contingency_rows`)."""
        return cluster_metrics.contingency_rows(self.scored_clusters()[0], self.spec.get("label"))

    def label_classes(self):
        if not self.labelled(self.config):
            return None
        clusters, field = self.scored_clusters()
        rows = self.label_rows
        return rows, f"the label x cluster contingency matrix ({rows} rows: {field}={clusters} or the data's class count)"

    def optimizer_identity(self) -> dict:
        record = {}
        for player in self.player_names:
            record |= optimizers.identity(self.config, self.num_steps, f"{player}_optimizer")
        return record


def initial_loss_scales(players) -> dict:
    """{'loss_scale': {player: a fresh loss-scaling state}}, for `extra` under float16."""
    return {"loss_scale": {player: loss_scaling.initial_state() for player in players}}


def loss_scale(trainer, state, player: str):
    """The factor `player`'s loss is multiplied by before its gradient (1 without loss scaling)."""
    return state.extra["loss_scale"][player]["loss_scale"] if trainer.loss_scaling else 1.0


def subtree(tree: dict, path: tuple):
    """The subtree of the nested dict `tree` at `path` (a tuple of keys)."""
    for key in path:
        tree = tree[key]
    return tree


def _replaced(tree: dict, path: tuple, value) -> dict:
    """A copy of the nested dict `tree` with the subtree at `path` replaced by `value`."""
    if not path:
        return value
    return {**tree, path[0]: _replaced(tree[path[0]], path[1:], value)}


def update(trainer, player: str, state, grads, metrics: dict, *, at: tuple | None = None):
    """One guarded update by `player`'s optimizer of the parameters at `at` alone -> (state, metrics).

    at: the path of those parameters in `state.params` (default (player,)), e.g. ('autoencoder',
      'encoder') for a phase that moves part of another player's parameters with its own optimizer.
    grads: of the player's loss times its loss scale; under pmap averaged over the devices here.
    metrics: the family's scalars plus 'loss', the whole objective (the non-finite guard reads it).
    """
    at = at or (player,)
    if trainer.axis_name is not None:
        grads = jax.lax.pmean(grads, trainer.axis_name)
        metrics = jax.lax.pmean(metrics, trainer.axis_name)
    scaling = state.extra["loss_scale"][player] if trainer.loss_scaling else {}
    params, opt_state, scaling, metrics = guarded_update(
        trainer.tx[player], subtree(state.params, at), state.opt_state[player], grads, metrics, scaling,
        loss_scaling_on=trainer.loss_scaling, skip_nonfinite=trainer.config.nonfinite == "skip")
    extra = state.extra
    if trainer.loss_scaling:
        extra = {**extra, "loss_scale": {**extra["loss_scale"], player: scaling}}
    state = state.replace(params=_replaced(state.params, at, params),
                          opt_state={**state.opt_state, player: opt_state}, extra=extra)
    return state, {(f"{player[0]}_{UPDATE_METRICS[name]}" if name in UPDATE_METRICS else name): value
                   for name, value in metrics.items()}


def merge_skips(metrics: dict, players) -> dict:
    """One 'skipped' for the step from each player's '<p>_skipped': a step where any player skipped
    is left out of the window's means as a whole (its metrics zeroed, the loss scales kept)."""
    flags = [metrics.pop(f"{player[0]}_skipped") for player in players if f"{player[0]}_skipped" in metrics]
    if not flags:
        return metrics
    skipped = jnp.max(jnp.stack(flags))
    metrics = {name: value if name.endswith("loss_scale") else jnp.where(skipped > 0, 0.0, value)
               for name, value in metrics.items()}
    return metrics | {"skipped": skipped}


def discriminator_won(means: dict, threshold: float, loss: str = "train/d_loss", advice: str = "") -> str | None:
    """Why a run has failed when the window mean of the discriminator's adversarial `loss` fell below
    `threshold` (0: never): it tells real from generated almost perfectly, and the other player's
    gradient through it vanishes (minimax) or grows without improving its samples."""
    value = means.get(loss)
    if value is None or not threshold or value >= threshold:
        return None
    others = ", ".join(f"{name}={means[name]:.3g}" for name in sorted(means)
                       if name != loss and name.split("/")[-1] in ("g_loss", "e_loss", "real_logit", "fake_logit"))
    return (f"the discriminator won outright: {loss}={value:.3g} < {threshold:g}" + (f" ({others})" if others else "")
            + (f"; {advice}" if advice else ""))
