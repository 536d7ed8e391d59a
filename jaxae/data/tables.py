"""Tables in, model arrays out: `TableEncoder` turns a NumPy array or a pandas DataFrame into the
tabular family's 'numeric' and 'categorical' fields, and back.

Column kinds, read from a DataFrame's dtypes:
  numeric      numbers and booleans (as 0 and 1): standardised by the mean and standard deviation
               seen in `fit`;
  ordinal      an ordered pandas Categorical: its rank (0, 1, ...) standardised the same way, so
               neighbouring levels are close in the input and reconstructed with squared error;
  categorical  an unordered Categorical, strings or other objects: one id per category seen in
               `fit` (compared by their text, str(value), in sorted order), plus one last id for
               any category `fit` did not see (an unseen category is what an anomaly detector
               should notice, not an error).
A NumPy array is all numeric. Missing values (NaN, None, pandas' NA) are left out of `fit`'s
statistics; `fields` gives each table its masks of observed cells beside the values (a missing
number as its column's mean, 0 once standardised; a missing category as the unseen id), which the
tabular family leaves out of its loss and scores; `transform`, for callers without masks, refuses
them with the column and row. Infinite numbers are refused everywhere.
Everything fitted is JSON (`to_json`/`from_json`): no pickle.
"""

from __future__ import annotations

import numpy as np

from jaxae.errors import DataError

KINDS = ("numeric", "ordinal", "categorical")
# The tabular family's fields and their kinds (`data.spec`): what `TableEncoder.fields` gives.
FIELD_KINDS = {"numeric": "dense", "categorical": "ids", "numeric_observed": "mask", "categorical_observed": "mask"}


def is_frame(X) -> bool:
    """Whether X is a pandas DataFrame (without importing pandas)."""
    return hasattr(X, "dtypes") and hasattr(X, "columns")


def column_kind(series) -> str:
    """'numeric', 'ordinal' or 'categorical' for a pandas Series, by its dtype."""
    import pandas as pd

    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "ordinal" if dtype.ordered else "categorical"
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    return "categorical"


def _as_text(values) -> np.ndarray:
    """values [n] -> their str() forms [n] (categories are compared as text)."""
    import pandas as pd

    return pd.Series(values).astype(str).to_numpy()


def _codes(values, names: list[str]) -> np.ndarray:
    """[n] int64: the position of each value's text in `names`, -1 where it is not there."""
    import pandas as pd

    return pd.Categorical(_as_text(values), categories=names).codes.astype(np.int64)


class TableEncoder:
    """Fitted on one table; then turns tables of the same columns into model inputs and back.

    Attributes after `fit`:
      columns: [{'name', 'kind', and 'mean'/'std' (numeric, ordinal), 'levels' (ordinal, in order)
        or 'categories' (categorical, sorted strings)}], in the table's column order;
      frame: whether `fit` saw a DataFrame (inverse_transform then returns one).
    """

    def __init__(self):
        self.columns: list[dict] = []
        self.frame = False

    # ------------------------------------------------------------------ reading a table

    def _split_columns(self, X, *, allow_missing: bool) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
        """[(name, kind, values [n], missing [n] bool)] for each column (an ordinal column's values
        are its level names, as strings); DataError naming the first infinite number, and the first
        missing value unless `allow_missing`."""
        if is_frame(X):
            columns = []
            for label in X.columns:
                series = X[label]
                kind = column_kind(series)
                values = series.astype(str).to_numpy() if kind == "ordinal" else series.to_numpy()
                columns.append((str(label), kind, values, series.isna().to_numpy()))
        else:
            X = np.asarray(X)
            if X.ndim != 2:
                raise DataError(f"a table must be [n, columns] (or a pandas DataFrame); got shape {X.shape}")
            if not (np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_):
                raise DataError(f"a NumPy table must hold numbers; got dtype {X.dtype} (use a DataFrame for "
                                "categorical columns)")
            columns = [(str(i), "numeric", X[:, i], np.isnan(X[:, i].astype(np.float64))) for i in range(X.shape[1])]
        for name, kind, values, missing in columns:
            if kind == "numeric":
                infinite = np.flatnonzero(np.isinf(np.where(missing, 0.0, values.astype(np.float64))))
                if infinite.size:
                    raise DataError(f"column {name!r} holds an infinite value at row {infinite[0]} "
                                    f"({infinite.size} rows in all)")
            if missing.any() and not allow_missing:
                rows = np.flatnonzero(missing)
                raise DataError(f"column {name!r} has a missing value at row {rows[0]} ({len(rows)} rows in all); "
                                "fill or drop them first, or pass the table where missing cells are masked")
        return columns

    # ------------------------------------------------------------------ fitting

    def fit(self, X) -> "TableEncoder":
        """Learns each column's kind and scaling from X [n, columns] (array or DataFrame)."""
        self.frame = is_frame(X)
        self.columns = []
        for name, kind, values, missing in self._split_columns(X, allow_missing=True):
            if missing.all():
                raise DataError(f"column {name!r} has no value in the table fitted")
            values = values[~missing]
            column = {"name": name, "kind": kind}
            if kind == "ordinal":
                column["levels"] = [str(level) for level in X.iloc[:, len(self.columns)].cat.categories]
                values = self._ranks(column, values)
            if kind == "categorical":
                column["categories"] = sorted(set(_as_text(values)))
            else:
                numbers = values.astype(np.float64)
                std = float(numbers.std())
                column.update(mean=float(numbers.mean()), std=std if std > 0 else 1.0)
                if values.dtype == np.bool_:
                    column["boolean"] = True  # Written back as value > 0.5.
            self.columns.append(column)
        if not self.columns:
            raise DataError("the table has no columns")
        return self

    @staticmethod
    def _ranks(column: dict, values) -> np.ndarray:
        ranks = _codes(values, column["levels"])
        if (ranks < 0).any():
            row = int(np.flatnonzero(ranks < 0)[0])
            raise DataError(f"ordinal column {column['name']!r} row {row} holds {values[row]!r}, not one of its "
                            f"levels {column['levels']}")
        return ranks.astype(np.float64)

    # ------------------------------------------------------------------ using it

    def _named(self, kind_test) -> list[dict]:
        return [column for column in self.columns if kind_test(column["kind"])]

    @property
    def numeric_columns(self) -> list[dict]:
        return self._named(lambda kind: kind != "categorical")

    @property
    def categorical_columns(self) -> list[dict]:
        return self._named(lambda kind: kind == "categorical")

    @property
    def cardinalities(self) -> tuple[int, ...]:
        """Ids per categorical column: the categories seen in `fit`, plus one for unseen ones."""
        return tuple(len(column["categories"]) + 1 for column in self.categorical_columns)

    def transform(self, X) -> tuple[np.ndarray, np.ndarray]:
        """X with the fitted columns, no value missing -> (numeric [n, numeric columns] float32,
        categorical [n, columns] int32)."""
        fields = self._fields(X, allow_missing=False)
        return fields["numeric"], fields["categorical"]

    def fields(self, X) -> dict[str, np.ndarray]:
        """X with the fitted columns, cells possibly missing -> {'numeric' [n, numeric columns]
        float32 (0 where missing), 'categorical' [n, columns] int32 (the unseen id where missing),
        'numeric_observed' [n, numeric columns] and 'categorical_observed' [n, columns] bool}."""
        return self._fields(X, allow_missing=True)

    def _fields(self, X, *, allow_missing: bool) -> dict[str, np.ndarray]:
        if not self.columns:
            raise DataError("this TableEncoder is not fitted: call fit first")
        found = self._split_columns(X, allow_missing=allow_missing)
        names = [name for name, _, _, _ in found]
        expected = [column["name"] for column in self.columns]
        if is_frame(X) and names != expected:
            raise DataError(f"the table's columns {names} are not the fitted ones {expected}")
        if not is_frame(X):  # An array's columns are matched by position, numbers only.
            if len(names) != len(expected):
                raise DataError(f"the table has {len(names)} columns; the fitted one has {len(expected)}: {expected}")
            kinds = sorted({column["kind"] for column in self.columns} - {"numeric"})
            if kinds:
                raise DataError(f"a NumPy table holds numbers only, and the fitted table has {' and '.join(kinds)} "
                                "columns: pass a pandas DataFrame with its column names")
        numeric, categorical, numeric_observed, categorical_observed = [], [], [], []
        for column, (name, kind, values, missing) in zip(self.columns, found):
            if column["kind"] == "categorical":
                ids = _codes(values, column["categories"])
                ids = np.where((ids < 0) | missing, len(column["categories"]), ids)  # Unseen or missing: the last id.
                categorical.append(ids)
                categorical_observed.append(~missing)
                continue
            if kind == "categorical" or (kind == "ordinal") != (column["kind"] == "ordinal"):
                raise DataError(f"column {name!r} was {column['kind']} in fit; it is {kind} here")
            numbers = np.zeros(len(values))
            observed = values[~missing]
            numbers[~missing] = self._ranks(column, observed) if column["kind"] == "ordinal" else observed.astype(np.float64)
            numeric.append(np.where(missing, 0.0, (numbers - column["mean"]) / column["std"]))
            numeric_observed.append(~missing)
        n = len(found[0][2])
        shaped = lambda columns, dtype: np.asarray(columns, dtype).T.reshape(n, len(columns))  # noqa: E731
        return {"numeric": shaped(numeric, np.float32), "categorical": shaped(categorical, np.int32),
                "numeric_observed": shaped(numeric_observed, bool),
                "categorical_observed": shaped(categorical_observed, bool)}

    def inverse_transform(self, numeric, probabilities):
        """Model outputs -> the fitted table's columns: numbers unscaled (as floats; booleans as
        value > 0.5), ordinal columns as an ordered Categorical of the nearest rank's level, and
        categorical columns as the most probable category's name (a string, as categories are
        compared; None for the id of unseen categories).

        numeric: [n, numeric and ordinal columns]; probabilities: [n, categorical columns, K].
        Returns a DataFrame (column names as strings) if `fit` saw one, else a float array [n, columns].
        """
        numeric, probabilities = np.asarray(numeric, np.float64), np.asarray(probabilities)
        widths = (len(self.numeric_columns), len(self.categorical_columns))
        if numeric.ndim != 2 or numeric.shape[1] != widths[0] or probabilities.ndim != 3 or (
                probabilities.shape[:2] != (len(numeric), widths[1])):
            raise DataError(f"numeric must be [n, {widths[0]}] and probabilities [n, {widths[1]}, K]; got "
                            f"{numeric.shape} and {probabilities.shape}")
        numeric_at = {id(column): i for i, column in enumerate(self.numeric_columns)}
        categorical_at = {id(column): i for i, column in enumerate(self.categorical_columns)}
        out = {}
        for column in self.columns:
            if column["kind"] == "categorical":
                ids = probabilities[:, categorical_at[id(column)]].argmax(axis=-1)
                names = column["categories"] + [None]
                out[column["name"]] = [names[min(i, len(names) - 1)] for i in ids]
                continue
            values = numeric[:, numeric_at[id(column)]] * column["std"] + column["mean"]
            if column.get("boolean"):
                values = values > 0.5
            elif column["kind"] == "ordinal":
                ranks = np.clip(np.rint(values), 0, len(column["levels"]) - 1).astype(int)
                values = [column["levels"][rank] for rank in ranks]
            out[column["name"]] = values
        if not self.frame:
            return np.stack([np.asarray(out[column["name"]], np.float64) for column in self.columns], axis=1)
        import pandas as pd

        for column in self.columns:
            if column["kind"] == "ordinal":
                out[column["name"]] = pd.Categorical(out[column["name"]], categories=column["levels"], ordered=True)
        return pd.DataFrame(out)

    def filled(self, X, reconstruction):
        """X with each missing cell of a fitted column taken from `reconstruction` (what
        `inverse_transform` gives for X's rows); every observed cell and any other column as in X.
        A DataFrame stays one (a filled categorical cell holds its category's text); an array
        comes back as floats."""
        if not is_frame(X):
            values = np.array(X, np.float64)
            missing = np.isnan(values)
            values[missing] = np.asarray(reconstruction, np.float64)[missing]
            return values
        out = X.copy()
        for column in self.columns:
            name = column["name"]
            missing = out[name].isna().to_numpy()
            if not missing.any():
                continue
            values = reconstruction[name]
            if column["kind"] == "ordinal":  # An ordered Categorical of the column's levels, as fitted.
                out[name] = out[name].astype(values.dtype)
            elif column["kind"] == "categorical":
                out[name] = out[name].astype(object)
            out.loc[missing, name] = np.asarray(values, np.float64 if column["kind"] == "numeric" else object)[missing]
        return out

    # ------------------------------------------------------------------ saving

    def to_json(self) -> dict:
        return {"columns": self.columns, "frame": self.frame}

    @classmethod
    def from_json(cls, record: dict) -> "TableEncoder":
        encoder = cls()
        encoder.columns, encoder.frame = [dict(column) for column in record["columns"]], bool(record["frame"])
        return encoder
