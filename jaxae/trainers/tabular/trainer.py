"""The tabular autoencoder family: tables of numeric, ordinal and categorical columns in one space.

A batch holds 'numeric' [batch, num_numeric] float (numbers and ordinal ranks, standardised by
whoever made the table: `jaxae.data.tables.TableEncoder`, or the embedded data set's builder) and, when
`table.cardinalities` names categorical columns, 'categorical' [batch, columns] int ids. Each
example's loss is the squared error summed over its numeric columns plus `table.categorical_weight`
times the cross-entropy summed over its categorical columns; the same per-example loss is the
anomaly score that `jaxae.AnomalyDetector` ranks rows by.

Missing cells (`table.missing`, which a CSV file with missing values sets): the batch also holds
'numeric_observed' and 'categorical_observed' masks. A missing cell enters the model as 0 (its
column's mean) or as the unseen category, whatever the data holds there, and is left out of the
loss exactly, as AutoRec leaves out unrated items; each part of a row's loss is its sum over the
observed cells times (columns / observed columns), so rows with missing cells score on the scale
of whole rows. `table.hide_fraction` hides that fraction of the observed cells from the input at
each step (still in the loss), which teaches the model to fill in what it does not see: the
reconstruction of a missing cell is its imputation (`jaxae.load(run).impute`).
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from jaxae import losses
from jaxae.config import checks
from jaxae.errors import ConfigError, DataError
from jaxae.metrics.means import masked_sums, means
from jaxae.models.activations import ACTIVATIONS
from jaxae.models.initializers import KERNEL_INITS
from jaxae.models.tabular import TableAutoencoder
from jaxae.steps import optimizers, rng
from jaxae.steps.train_state import TrainState
from jaxae.trainers.base import Trainer

COMPUTE_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}  # No float16: tables are small, no loss scaling.


class TabularTrainer(Trainer):
    """Trains a `TableAutoencoder` on the config's `model` and `table` sections."""

    @classmethod
    def validate_config(cls, config) -> None:
        super().validate_config(config)
        checks.choice(config, "compute_dtype", COMPUTE_DTYPES)
        checks.choice(config, "model.activation", ACTIVATIONS)
        checks.choice(config, "model.weight_init", KERNEL_INITS)
        checks.number(config, "model.latent_dim", low=1, integer=True)
        checks.widths(config, "model.hidden", allow_empty=True)
        checks.widths(config, "model.decoder_hidden", allow_empty=True)
        checks.widths(config, "table.cardinalities", allow_empty=True)
        if any(card < 2 for card in config.table.cardinalities):
            raise ConfigError(f"table.cardinalities={tuple(config.table.cardinalities)}: each categorical column "
                              "needs at least 2 categories")
        checks.number(config, "table.embed_dim", low=1, integer=True)
        checks.number(config, "table.categorical_weight", low=0)
        checks.boolean(config, "table.missing")
        checks.number(config, "table.hide_fraction", low=0, high=1, high_open=True)
        optimizers.validate(config)

    @classmethod
    def train_fields(cls, config) -> dict[str, str]:
        fields = {"numeric": "dense"}
        if config.table.missing:
            fields["numeric_observed"] = "mask"
        if config.table.cardinalities:
            fields |= {"categorical": "ids"} | ({"categorical_observed": "mask"} if config.table.missing else {})
        return fields

    def __init__(self, config, spec, num_examples: int, *, axis_name=None):
        super().__init__(config, spec, num_examples, axis_name=axis_name)
        numeric = spec["numeric"].shape
        if len(numeric) != 1:
            raise DataError(f"the 'numeric' field must be [n, columns]; it is [n, {', '.join(map(str, numeric))}]")
        self.cardinalities = tuple(int(card) for card in config.table.cardinalities)
        if "categorical" in spec and spec["categorical"].shape != (len(self.cardinalities),):
            raise ConfigError(f"table.cardinalities names {len(self.cardinalities)} categorical columns but the data's "
                              f"'categorical' field has shape {spec['categorical'].shape} per row")
        model = config.model
        self.model = TableAutoencoder(num_numeric=numeric[0], cardinalities=self.cardinalities,
                                      hidden=tuple(model.hidden), decoder_hidden=tuple(model.decoder_hidden),
                                      latent_dim=model.latent_dim, embed_dim=config.table.embed_dim,
                                      activation=model.activation, weight_init=model.weight_init,
                                      dtype=COMPUTE_DTYPES[config.compute_dtype],
                                      indicators=bool(config.table.missing or config.table.hide_fraction))
        self.tx = optimizers.build_optimizer(config.optimizer, self.num_steps)

    def identity(self):
        fields = ["model.hidden", "model.decoder_hidden", "model.latent_dim", "model.activation",
                  "model.weight_init", "table.cardinalities", "table.embed_dim", "compute_dtype", "table.missing",
                  "table.hide_fraction"]
        return self.identity_of(*fields) | optimizers.identity(self.config, self.num_steps)

    def columns(self, batch):
        """A batch's (numeric [batch, num_numeric], categorical [batch, columns] int32, observed):
        observed is (numeric_observed, categorical_observed) bool masks, or None where the batch has none."""
        numeric = batch["numeric"]
        chex.assert_rank(numeric, 2)
        categorical = batch.get("categorical", jnp.zeros((numeric.shape[0], 0), jnp.int32))
        observed = None
        if "numeric_observed" in batch:
            categorical_observed = batch.get("categorical_observed", jnp.ones(categorical.shape, bool))
            observed = (batch["numeric_observed"].astype(bool), categorical_observed.astype(bool))
        return numeric, categorical.astype(jnp.int32), observed

    def init(self, key) -> TrainState:
        init_key, state_key = jax.random.split(key)
        numeric = jnp.zeros((1, self.model.num_numeric), jnp.float32)
        params = self.model.init(init_key, numeric, jnp.zeros((1, len(self.cardinalities)), jnp.int32))["params"]
        return TrainState(step=jnp.zeros((), jnp.int32), key=state_key, params=params,
                          opt_state=self.tx.init(params), extra={})

    def per_example(self, params, numeric, categorical, observed=None, seen=None):
        """{'score' [batch]: the loss of each row, 'squared_error', 'cross_entropy', 'category_acc' [batch]}.

        observed: (numeric_observed, categorical_observed) masks of the cells the loss counts (None: all);
        seen: masks of the cells the model's input shows (default `observed`); an unseen cell enters
        as 0 (numeric) or the unseen id (categorical).
        """
        seen = observed if seen is None else seen
        _, numeric_out, logits = self.model.apply({"params": params}, *self.shown(numeric, categorical, seen))
        if observed is None:
            squared = losses.squared_error(numeric_out, numeric)
        else:
            squared = losses.masked_squared_error(numeric_out, numeric, observed[0]) * _to_whole_rows(observed[0])
        if self.cardinalities:
            counted = None if observed is None else observed[1]
            cross_entropy = losses.categorical_cross_entropy(logits, categorical, counted)
            right = jnp.argmax(logits, axis=-1) == categorical
            if counted is None:
                accuracy = jnp.mean(right, axis=-1).astype(jnp.float32)
            else:
                cross_entropy = cross_entropy * _to_whole_rows(counted)
                accuracy = jnp.sum(right & counted, axis=-1) / jnp.maximum(jnp.sum(counted, axis=-1), 1)
        else:
            cross_entropy = accuracy = jnp.zeros_like(squared)
        return {"score": squared + self.config.table.categorical_weight * cross_entropy,
                "squared_error": squared, "cross_entropy": cross_entropy, "category_acc": accuracy}

    def shown(self, numeric, categorical, seen):
        """The model's input (numeric, categorical, which numeric cells it shows): the cells `seen`
        masks out replaced by 0 and the unseen id; None for the third where every cell is shown."""
        if seen is None:
            return numeric, categorical, None
        unseen_ids = jnp.asarray(self.cardinalities, jnp.int32) - 1
        return jnp.where(seen[0], numeric, 0.0), jnp.where(seen[1], categorical, unseen_ids), seen[0]

    def hidden_cells(self, state, batch, observed):
        """(the cells a train step's loss counts, the cells its input shows): `observed` (all cells
        where none is missing) less a `table.hide_fraction` of them, drawn per example (by its index
        in the split) and step, so any device count draws alike; `observed` twice without hiding."""
        fraction = self.config.table.hide_fraction
        if not fraction:
            return observed, observed
        if observed is None:  # No cell missing: hide among all of them.
            rows = len(batch["numeric"])
            observed = (jnp.ones(batch["numeric"].shape, bool), jnp.ones((rows, len(self.cardinalities)), bool))
        keys = rng.keys_for(jax.random.fold_in(state.key, state.step), batch["index"])
        shown = tuple(mask & ~jax.vmap(lambda key, mask=mask: jax.random.bernoulli(key, fraction, mask.shape[1:]))(draw)
                      for mask, draw in zip(observed, rng.split_streams(keys, 2)))
        return observed, shown

    def train_step(self, state: TrainState, batch):
        numeric, categorical, observed = self.columns(batch)
        observed, seen = self.hidden_cells(state, batch, observed)

        def loss_fn(params):
            parts = self.per_example(params, numeric, categorical, observed, seen)
            metrics = {"loss": jnp.mean(parts["score"]), "squared_error": jnp.mean(parts["squared_error"])}
            if self.cardinalities:
                metrics["cross_entropy"] = jnp.mean(parts["cross_entropy"])
            return metrics["loss"], (metrics, None)

        params, opt_state, metrics, _ = self.gradient_step(self.tx, state.params, state.opt_state, loss_fn)
        return state.replace(step=state.step + 1, params=params, opt_state=opt_state), metrics

    def eval_step(self, state: TrainState, batch, mask):
        parts = self.per_example(state.params, *self.columns(batch))
        if not self.cardinalities:
            parts = {"score": parts["score"]}
        return masked_sums(parts, mask)

    def eval_report(self, sums) -> dict[str, float]:
        """Means per row: 'score' (the loss), and with categorical columns its two parts and the
        fraction of categories reconstructed exactly; 'mse' per numeric column."""
        report = means(sums)
        squared = report.get("squared_error", report["score"])
        if self.model.num_numeric:
            report["mse"] = squared / self.model.num_numeric
        return report

    def inference(self, state, mesh):
        from jaxae.trainers.tabular.inference import TrainedTableAutoencoder

        return TrainedTableAutoencoder(self, state, mesh)


def _to_whole_rows(observed):
    """[batch] columns / observed columns of each row (0 for a row with none): a masked sum times it
    is on the scale of a whole row's sum."""
    counts = jnp.sum(observed, axis=-1)
    return jnp.where(counts > 0, observed.shape[-1] / jnp.maximum(counts, 1), 0.0)
