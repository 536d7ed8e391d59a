"""A trained AutoRec as `jaxae.load` returns it: predicted ratings, row codes and column vectors.

Rows come as the run saw them (`jaxae.data.ratings`): 'ratings' [n, columns], 0 where there is
none, and 'observed' [n, columns]. For I-AutoRec a row is an item over users, so an item's code
(`encode`) is an item embedding and the decoder's vector of a user (`column_vectors`) a user
embedding; for U-AutoRec the reverse.
"""

from __future__ import annotations

import numpy as np

from jaxae.data.sources import ArraySource
from jaxae.data.whole_split import WholeSplit
from jaxae.errors import DataError
from jaxae.trainers.base import ExportedPart, TrainedModel


class TrainedAutoRec(TrainedModel):
    """The model of an AutoRec run, mapped over rows in batches on all devices; NumPy in and out.

    Attributes:
      config, model, params, step; num_columns; column_rated [columns] bool: the columns with a
      training rating (the others are predicted as `autorec.default_rating`).
    """

    input_fields = ("ratings", "observed")  # What encode and predict take (python -m jaxae.encode reads them).
    offers = frozenset({"encode", "predict", "column_vectors"})

    def __init__(self, trainer, state, mesh, batch_size: int | None = None):
        self.trainer, self.config, self.model, self.mesh = trainer, trainer.config, trainer.model, mesh
        self.params, self.step = state.params, int(state.step)
        self.column_rated_weights = state.extra["column_rated"]
        self.column_rated = np.asarray(self.column_rated_weights) > 0
        self.num_columns = trainer.num_columns
        self.batch_size = batch_size or self.config.eval_batch_size

    def _split(self, ratings, observed, batch_size: int | None) -> WholeSplit:
        fields = {"ratings": np.asarray(ratings, np.float32)}
        fields["observed"] = (fields["ratings"] != 0) if observed is None else np.asarray(observed)
        for name, values in fields.items():
            if values.ndim != 2 or values.shape[1] != self.num_columns:
                raise DataError(f"{name} must be [n, {self.num_columns}] (a rating matrix's rows); got shape {values.shape}")
        source = ArraySource(fields, kinds={"ratings": "dense", "observed": "mask"}, name="rows")
        return WholeSplit(source, self.mesh, self.batch_of(batch_size))

    def parts(self) -> dict[str, ExportedPart]:
        """encoder (rows' ratings [b, columns] float32 and where they exist, bool -> codes) and
        predictor (the same -> predicted ratings [b, columns])."""
        rows = {"ratings": ((self.num_columns,), "float32"), "observed": ((self.num_columns,), "bool")}
        return {"encoder": ExportedPart("encode", self._encode, (self.params,), rows, ("code",)),
                "predictor": ExportedPart("predict", self._predict, (self.params, self.column_rated_weights), rows,
                                          ("prediction",))}

    def _predict(self, params, column_rated, batch):
        return {"prediction": self.trainer.predict(params, column_rated, batch["ratings"], batch["observed"])}

    def _encode(self, params, batch):
        return {"code": self.model.apply({"params": params}, batch["ratings"], method="encode")}

    def predict(self, ratings, observed=None, *, batch_size: int | None = None) -> np.ndarray:
        """Rows' training ratings [n, columns] (and where they exist; default: where nonzero) ->
        predicted ratings [n, columns], clipped to the rating range, as the eval predicts them."""
        return self._split(ratings, observed, batch_size).map(self._predict, self.params, self.column_rated_weights)["prediction"]

    def encode(self, ratings, observed=None, *, batch_size: int | None = None) -> np.ndarray:
        """Rows [n, columns] -> their codes [n, hidden_units], the rows' embeddings."""
        return self._split(ratings, observed, batch_size).map(self._encode, self.params)["code"]

    def column_vectors(self) -> np.ndarray:
        """[columns, hidden_units]: each column's output weights, the columns' embeddings."""
        return np.asarray(self.params["decoder"]["kernel"]).T
