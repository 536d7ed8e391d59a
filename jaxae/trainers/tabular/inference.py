"""A trained tabular autoencoder as `jaxae.load` returns it: encode, decode and score table rows."""

from __future__ import annotations

import jax
import numpy as np

from jaxae.data import whole_split
from jaxae.data.sources import ArraySource
from jaxae.data.whole_split import WholeSplit
from jaxae.errors import DataError
from jaxae.trainers.base import TrainedModel


class TrainedTableAutoencoder(TrainedModel):
    """The model of a tabular run, mapped over rows in batches on all devices; NumPy in and out.

    Rows come as the run saw them: numeric [n, num_numeric] float (standardised, ordinal columns
    as numbers) and categorical [n, columns] int ids (see `jaxae.data.tables.TableEncoder`).

    Attributes:
      config, model, params, step; cardinalities: each categorical column's number of ids.
    """

    input_fields = ("numeric", "categorical")  # What encode and scores take.
    offers = frozenset({"encode", "decode", "scores"})

    def __init__(self, trainer, state, mesh, batch_size: int | None = None):
        self.trainer, self.config, self.model, self.mesh = trainer, trainer.config, trainer.model, mesh
        self.params, self.step = state.params, int(state.step)
        self.cardinalities = trainer.cardinalities
        self.batch_size = batch_size or self.config.eval_batch_size

    def _split(self, numeric, categorical) -> WholeSplit:
        numeric = np.asarray(numeric, np.float32)
        if numeric.ndim != 2 or numeric.shape[1] != self.model.num_numeric:
            raise DataError(f"numeric must be [n, {self.model.num_numeric}]; got shape {numeric.shape}")
        if categorical is None:
            categorical = np.zeros((len(numeric), 0), np.int32)
        categorical = np.asarray(categorical)
        if categorical.shape != (len(numeric), len(self.cardinalities)) or not (
                categorical.size == 0 or np.issubdtype(categorical.dtype, np.integer)):
            raise DataError(f"categorical must be [{len(numeric)}, {len(self.cardinalities)}] integer ids; got "
                            f"shape {categorical.shape}, dtype {categorical.dtype}")
        outside = (categorical < 0) | (categorical >= np.asarray(self.cardinalities, np.int64))
        if outside.any():
            row, column = map(int, np.argwhere(outside)[0])
            raise DataError(f"categorical[{row}, {column}]={categorical[row, column]} is not in [0, "
                            f"{self.cardinalities[column]}), that column's ids")
        fields = {"numeric": numeric, "categorical": categorical.astype(np.int32)}
        source = ArraySource(fields, kinds={"numeric": "dense", "categorical": "ids"}, name="rows")
        return WholeSplit(source, self.mesh, self.batch_size)

    def _encode(self, params, batch):
        return {"code": self.model.apply({"params": params}, *self.trainer.columns(batch), method="encode")}

    def _decode(self, params, batch):
        numeric, logits = self.model.apply({"params": params}, batch["code"], method="decode")
        return {"numeric": numeric, "probabilities": jax.nn.softmax(logits, axis=-1)}

    def _scores(self, params, batch):
        return self.trainer.per_example(params, *self.trainer.columns(batch))

    def encode(self, numeric, categorical=None) -> np.ndarray:
        """Rows -> codes [n, latent_dim]."""
        return self._split(numeric, categorical).map(self._encode, self.params)["code"]

    def decode(self, codes) -> tuple[np.ndarray, np.ndarray]:
        """codes [n, latent_dim] -> (numeric [n, num_numeric], probabilities [n, columns, max_categories])."""
        split = whole_split.of_codes(np.asarray(codes, np.float32), self.model.latent_dim, self.mesh, self.batch_size)
        out = split.map(self._decode, self.params)
        return out["numeric"], out["probabilities"]

    def scores(self, numeric, categorical=None) -> np.ndarray:
        """Rows -> [n] each row's reconstruction loss (squared error + weighted cross-entropy)."""
        return self._split(numeric, categorical).map(self._scores, self.params)["score"]
