"""A trained tabular autoencoder as `jaxae.load` returns it: encode, decode, reconstruct and score
table rows, raw as the user holds them where the run recorded its column transform."""

from __future__ import annotations

import jax
import numpy as np

from jaxae.data import csv_table, tables, whole_split
from jaxae.data.sources import ArraySource
from jaxae.data.tables import TableEncoder
from jaxae.data.whole_split import WholeSplit
from jaxae.errors import DataError
from jaxae.trainers.base import ExportedPart, TrainedModel


class TrainedTableAutoencoder(TrainedModel):
    """The model of a tabular run, mapped over rows in batches on all devices; NumPy in and out.

    A run on a data set with a column transform (a CSV file's, the embedded breast-cancer table's
    standardisation, an estimator's; recorded as the run record's `input_transform`) takes raw rows
    in `encode`, `scores`, `reconstruct` and `impute`: a pandas DataFrame with the table's columns,
    or an array [n, columns] of numbers where every column is numeric, missing cells as NaN or None;
    the transform is applied here, so raw rows are never scored as if standardised. A run without
    one (trained on the caller's arrays of fields) takes its fields there: numeric [n, num_numeric]
    float and categorical [n, columns] ids. `encode_fields` and `scores_fields` always take the
    fields (as the data set holds them), with optional masks of the observed cells.

    Attributes:
      config, model, params, step; cardinalities: each categorical column's number of ids;
      transform: the recorded `TableEncoder`, or None.
    """

    input_fields = ("numeric", "categorical", "numeric_observed", "categorical_observed")  # encode_fields' arguments.
    offers = frozenset({"encode", "decode", "reconstruct", "scores"})

    def __init__(self, trainer, state, mesh, batch_size: int | None = None):
        self.trainer, self.config, self.model, self.mesh = trainer, trainer.config, trainer.model, mesh
        self.params, self.step = state.params, int(state.step)
        self.cardinalities = trainer.cardinalities
        self.batch_size = batch_size or self.config.eval_batch_size
        self.record = {}

    @property
    def transform(self) -> TableEncoder | None:
        recorded = self.record.get("data", {}).get("input_transform")
        return TableEncoder.from_json(recorded) if recorded else None

    def _fields_of(self, rows, *fields):
        """The model's fields (numeric, categorical, numeric_observed, categorical_observed) from raw
        rows (through the transform) or, for a run without one, as given (`rows` the numeric field)."""
        transform = self.transform
        if transform is None:
            return (rows, *fields) + (None,) * (3 - len(fields))
        if any(field is not None for field in fields):
            raise DataError("this run recorded its column transform: pass the raw rows alone (a DataFrame or "
                            "[n, columns] numbers); the data set's fields go to encode_fields / scores_fields")
        options = csv_table.options_of_json(self.record["data"]["input_transform"])
        if options is not None and tables.is_frame(rows):  # The CSV's own columns, typed as the run read them.
            rows, _ = csv_table.typed_inputs(rows, options, where="the rows")
        fields = transform.fields(rows)
        return tuple(fields[name] for name in self.input_fields)

    def _split(self, numeric, categorical, numeric_observed=None, categorical_observed=None,
               batch_size: int | None = None) -> WholeSplit:
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
        if numeric_observed is not None or categorical_observed is not None:
            fields["numeric_observed"] = np.ones(numeric.shape, bool) if numeric_observed is None else numeric_observed
            fields["categorical_observed"] = (np.ones(categorical.shape, bool) if categorical_observed is None
                                              else categorical_observed)
            for name in ("numeric_observed", "categorical_observed"):
                fields[name] = np.asarray(fields[name], bool).reshape(fields[name.split("_")[0]].shape)
        source = ArraySource(fields, kinds={name: tables.FIELD_KINDS[name] for name in fields}, name="rows")
        return WholeSplit(source, self.mesh, self.batch_of(batch_size))

    def parts(self) -> dict[str, ExportedPart]:
        """encoder (the fields -> codes), decoder (codes -> numeric [b, num_numeric] and probabilities
        [b, columns, max_categories]) and scorer (the fields -> [b]). The fields are what the recorded
        column transform gives raw rows: numeric float32, categorical int32 ids, and bool masks of
        their observed cells (all True for complete rows)."""
        numeric, columns = (self.model.num_numeric,), (len(self.cardinalities),)
        fields = {"numeric": (numeric, "float32"), "categorical": (columns, "int32"),
                  "numeric_observed": (numeric, "bool"), "categorical_observed": (columns, "bool")}
        code = {"code": ((self.model.latent_dim,), "float32")}
        return {"encoder": ExportedPart("encode", self._encode, (self.params,), fields, ("code",)),
                "decoder": ExportedPart("decode", self._decode, (self.params,), code, ("numeric", "probabilities")),
                "scorer": ExportedPart("scores", self._scores, (self.params,), fields, ("score",))}

    def _encode(self, params, batch):
        numeric, categorical, observed = self.trainer.columns(batch)
        shown = self.trainer.shown(numeric, categorical, observed)
        return {"code": self.model.apply({"params": params}, *shown, method="encode")}

    def _decode(self, params, batch):
        numeric, logits = self.model.apply({"params": params}, batch["code"], method="decode")
        return {"numeric": numeric, "probabilities": jax.nn.softmax(logits, axis=-1)}

    def _scores(self, params, batch):
        return self.trainer.per_example(params, *self.trainer.columns(batch))

    def encode_fields(self, numeric, categorical=None, numeric_observed=None, categorical_observed=None, *,
                      batch_size: int | None = None) -> np.ndarray:
        """The data set's fields (numeric [n, num_numeric], categorical [n, columns], and the masks of
        their observed cells where some are missing) -> codes [n, latent_dim]."""
        split = self._split(numeric, categorical, numeric_observed, categorical_observed, batch_size)
        return split.map(self._encode, self.params)["code"]

    def scores_fields(self, numeric, categorical=None, numeric_observed=None, categorical_observed=None, *,
                      batch_size: int | None = None) -> np.ndarray:
        """The data set's fields -> [n] each row's reconstruction loss (squared error + weighted
        cross-entropy) over its observed cells, on the scale of a whole row."""
        split = self._split(numeric, categorical, numeric_observed, categorical_observed, batch_size)
        return split.map(self._scores, self.params)["score"]

    def encode(self, rows, *fields, batch_size: int | None = None) -> np.ndarray:
        """Raw rows (or, for a run without a transform, its fields) -> codes [n, latent_dim]."""
        return self.encode_fields(*self._fields_of(rows, *fields), batch_size=batch_size)

    def scores(self, rows, *fields, batch_size: int | None = None) -> np.ndarray:
        """Raw rows (or a run's fields) -> [n] each row's reconstruction loss over its observed
        cells: the anomaly score."""
        return self.scores_fields(*self._fields_of(rows, *fields), batch_size=batch_size)

    def decode(self, codes, *, batch_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """codes [n, latent_dim] -> (numeric [n, num_numeric], probabilities [n, columns, max_categories])."""
        split = whole_split.of_codes(np.asarray(codes, np.float32), self.model.latent_dim, self.mesh,
                                     self.batch_of(batch_size))
        out = split.map(self._decode, self.params)
        return out["numeric"], out["probabilities"]

    def reconstruct(self, rows, *fields, batch_size: int | None = None):
        """Raw rows -> their reconstruction in the table's own terms (the transform inverted: a
        DataFrame for a table read as one, else [n, columns] numbers); a run without a transform
        takes its fields and gives (numeric, probabilities) as `decode` does."""
        decoded = self.decode(self.encode(rows, *fields, batch_size=batch_size), batch_size=batch_size)
        transform = self.transform
        return transform.inverse_transform(*decoded) if transform is not None else decoded

    def impute(self, rows, *, batch_size: int | None = None):
        """Raw rows with missing cells (NaN, None) -> the same rows with each missing cell filled by
        its reconstruction from the row's observed cells (a category by its most probable seen
        value); observed cells are kept as given. Needs the run's column transform."""
        transform = self.transform
        if transform is None:
            raise DataError("impute needs a run that recorded its column transform (a CSV file's, an estimator's)")
        numeric, categorical, numeric_observed, categorical_observed = self._fields_of(rows)
        codes = self.encode_fields(numeric, categorical, numeric_observed, categorical_observed, batch_size=batch_size)
        filled_numeric, probabilities = self.decode(codes, batch_size=batch_size)
        probabilities = probabilities.copy()
        for column, cardinality in enumerate(self.cardinalities):  # The unseen id is no imputation.
            probabilities[:, column, cardinality - 1:] = -1.0
        filled = transform.inverse_transform(filled_numeric, probabilities)
        return transform.filled(rows, filled)
