"""The AutoRec family (Sedhain et al., 2015): an autoencoder over the rows of a sparse rating matrix.

A batch holds rows of the matrix (`jaxae.data.ratings`): 'ratings' [batch, columns], 0 where
unobserved, and the 'observed' mask. Items as rows give I-AutoRec, users as rows U-AutoRec. Only
observed ratings enter the loss; the reconstruction at the other positions is the prediction.

The objective is the paper's, divided by the number of rows N so that a minibatch's mean estimates
it: mean over the batch of each row's squared error over its observed ratings, plus
(`autorec.l2` / 2N) (|W|^2 + |V|^2) on the two kernels. `autorec.l2` is therefore the paper's
lambda (its code's `lamda`), whatever the batch size.

Evaluation reads the test split's 'held_out' ratings: the model sees each row's training ratings
and predicts the held-out ones, clipped to `autorec.rating_range`. As in the paper, a held-out
rating whose row or column has no training rating at all is predicted as `autorec.default_rating`:
the network knows nothing of it. The report's 'rmse' is the square root of a ratio of sums.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxae import losses
from jaxae.config import checks
from jaxae.data import host, ratings
from jaxae.errors import ConfigError, DataError
from jaxae.models.activations import ACTIVATIONS
from jaxae.models.autorec import AutoRec
from jaxae.models.initializers import KERNEL_INITS
from jaxae.steps import optimizers
from jaxae.steps.train_state import TrainState
from jaxae.trainers.base import Phase, Trainer


class AutoRecTrainer(Trainer):
    """Trains an `AutoRec` on the config's `model` and `autorec` sections."""

    early_stopping_refused = ("a validation part of the rows would hold no held-out ratings: the rows are the "
                              "examples and the held-out ratings the test")

    @classmethod
    def validate_config(cls, config) -> None:
        super().validate_config(config)
        ratings.validate_options(config)  # The data set's options: the ratings this family reads.
        checks.number(config, "model.hidden_units", low=1, integer=True)
        checks.choice(config, "model.activation", ACTIVATIONS)
        checks.choice(config, "model.weight_init", KERNEL_INITS)
        checks.number(config, "autorec.l2", low=0)
        bounds = checks.get(config, "autorec.rating_range")
        if not (isinstance(bounds, (tuple, list)) and len(bounds) == 2
                and all(isinstance(b, (int, float)) and np.isfinite(b) for b in bounds) and 0 < bounds[0] < bounds[1]):
            raise ConfigError(f"autorec.rating_range={bounds!r} must be (lowest, highest) with 0 < lowest < highest "
                              "(a 0 in the input means 'no rating': shift a scale that starts at 0)")
        checks.number(config, "autorec.default_rating", low=bounds[0], high=bounds[1])
        optimizers.validate(config)

    @classmethod
    def train_fields(cls, config) -> dict[str, str]:
        return {"ratings": "dense", "observed": "mask"}

    @classmethod
    def eval_fields(cls, config) -> dict[str, str]:
        return cls.train_fields(config) | {"held_out": "dense", "held_out_observed": "mask"}

    def __init__(self, config, spec, num_examples: int, *, axis_name=None):
        super().__init__(config, spec, num_examples, axis_name=axis_name)
        shape = spec["ratings"].shape
        if len(shape) != 1 or spec["observed"].shape != shape:
            raise DataError(f"AutoRec needs 'ratings' and 'observed' as [rows, columns] alike; they are "
                            f"{spec['ratings'].shape} and {spec['observed'].shape} per row")
        self.num_columns = shape[0]
        self.low, self.high = (float(bound) for bound in config.autorec.rating_range)
        self.model = AutoRec(num_columns=self.num_columns, hidden_units=config.model.hidden_units,
                             activation=config.model.activation, weight_init=config.model.weight_init)
        self.tx = optimizers.build_optimizer(config.optimizer, self.num_steps)

    def identity(self):
        fields = ["model.hidden_units", "model.activation", "model.weight_init", "autorec.l2"]
        return self.identity_of(*fields) | optimizers.identity(self.config, self.num_steps)

    def phases(self):
        """One phase; its start reads which columns the training split rates at all."""
        return (Phase("train", self.epochs_or_steps(), self.train_step, on_start=self.find_rated_columns),)

    def init(self, key) -> TrainState:
        init_key, state_key = jax.random.split(key)
        params = self.model.init(init_key, jnp.zeros((1, self.num_columns), jnp.float32))["params"]
        return TrainState(step=jnp.zeros((), jnp.int32), key=state_key, params=params,
                          opt_state=self.tx.init(params), extra={"column_rated": jnp.zeros(self.num_columns, jnp.float32)})

    def find_rated_columns(self, state: TrainState, split):
        """Start hook: which columns have a training rating ('column_rated' [columns], 1 or 0), after
        checking that every rating lies in `autorec.rating_range` (clipping would hide it otherwise)."""
        rows = host.read_all(split.source, ["ratings", "observed"])
        rated = rows["ratings"][rows["observed"].astype(bool)]
        if rated.size and (rated.min() < self.low or rated.max() > self.high):
            raise DataError(f"{split.source.where}: ratings lie in [{rated.min():g}, {rated.max():g}] but "
                            f"autorec.rating_range=({self.low:g}, {self.high:g}); set it to the data's scale")
        column_rated = rows["observed"].any(axis=0)
        extra = {"column_rated": jnp.asarray(column_rated, jnp.float32)}
        return state.replace(extra=extra), {"rated_columns": int(column_rated.sum()), "ratings": int(rated.size)}

    def predict(self, params, column_rated, ratings, observed):
        """Training ratings and their mask [batch, columns] -> predicted ratings [batch, columns],
        clipped to the rating range; `autorec.default_rating` where the row or the column has no
        training rating."""
        predictions, _ = self.model.apply({"params": params}, ratings)
        row_rated = jnp.any(observed, axis=-1, keepdims=True)
        known = row_rated & (column_rated[None, :] > 0)
        return jnp.where(known, jnp.clip(predictions, self.low, self.high), self.config.autorec.default_rating)

    def train_step(self, state: TrainState, batch):
        ratings, observed = batch["ratings"], batch["observed"]

        def loss_fn(params):
            predictions, _ = self.model.apply({"params": params}, ratings)
            squared = losses.masked_squared_error(predictions, ratings, observed)
            penalty = self.config.autorec.l2 / self.num_examples * losses.l2_penalty(params)
            metrics = {"loss": jnp.mean(squared) + penalty, "squared_error": jnp.mean(squared)}
            return metrics["loss"], (metrics, None)

        params, opt_state, metrics, _ = self.gradient_step(self.tx, state.params, state.opt_state, loss_fn)
        return state.replace(step=state.step + 1, params=params, opt_state=opt_state), metrics

    def eval_step(self, state: TrainState, batch, mask):
        predictions = self.predict(state.params, state.extra["column_rated"], batch["ratings"], batch["observed"])
        rows = mask[:, None].astype(jnp.float32)
        held_out = batch["held_out_observed"] * rows
        train = batch["observed"] * rows
        error = predictions - batch["held_out"]
        return {"squared_error": jnp.sum(held_out * jnp.square(error)),
                "absolute_error": jnp.sum(held_out * jnp.abs(error)), "count": jnp.sum(held_out),
                "train_squared_error": jnp.sum(train * jnp.square(predictions - batch["ratings"])),
                "train_count": jnp.sum(train)}

    def eval_report(self, sums) -> dict[str, float]:
        """'rmse' and 'mae' over the held-out ratings (absent when the split holds none) and
        'train_rmse' over the rows' training ratings, all with the predictions the eval makes."""
        report = {"train_rmse": float(np.sqrt(sums["train_squared_error"] / max(sums["train_count"], 1)))}
        if sums["count"] > 0:
            report |= {"rmse": float(np.sqrt(sums["squared_error"] / sums["count"])),
                       "mae": float(sums["absolute_error"] / sums["count"])}
        return report

    def inference(self, state, mesh):
        from jaxae.trainers.autorec.inference import TrainedAutoRec

        return TrainedAutoRec(self, state, mesh)
