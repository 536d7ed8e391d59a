"""A CSV file as a table data set (`data.name='csv'`, `data.path=FILE`) for the tabular family: its
columns' kinds, an optional label column, a seeded split, and the column transform fitted on the
train split. The tfds builder that writes it as array_record is `option_builders.CsvTable`.

Read with pandas (`data.csv.delimiter`, ',' by default; the usual missing-value spellings: empty,
NA, NaN, null, ...). Column kinds, as `jaxae.data.tables.TableEncoder` reads a DataFrame: numbers
and booleans are numeric; text is categorical; `data.csv.categorical` names number-like columns to
read as categories (codes, ids of shops), `data.csv.ordinal` declares ordered categories as
'column:low<mid<high' (several separated by ';'), and `data.csv.ignore` names columns to leave
out (a row id, a free-text note). `data.csv.label` names a column that is never an input: it is
stored as the examples' 'label' (its values' text, sorted, are classes 0, 1, ...), which
`python -m jaxae.encode --split` writes beside each row's code and score (`--rows` reads no label).

The test split is a seeded `data.test_fraction` of the rows (of each class, with a label); the
transform (each numeric column's mean and standard deviation, each categorical column's
categories) is fitted on the train split alone, so nothing of the test rows leaks into training.
Missing cells (empty, NA, ...) are kept as such: the data set then carries masks of the observed
cells and sets `table.missing`, and the tabular family leaves the missing cells out of its loss.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os

import numpy as np

from jaxae.data import splits
from jaxae.data.files import content_hash, tag_of
from jaxae.data.tables import TableEncoder
from jaxae.errors import DataError


@dataclasses.dataclass(frozen=True)
class CsvOptions:
    """The config's `data.csv` section, parsed. categorical, ignore: column names; ordinal: {column: levels}."""

    label: str
    categorical: tuple[str, ...]
    ordinal: dict
    ignore: tuple[str, ...]
    delimiter: str

    @classmethod
    def of(cls, section) -> "CsvOptions":
        names = lambda text: tuple(name.strip() for name in text.split(",") if name.strip())  # noqa: E731
        ordinal = {}
        for declaration in (part.strip() for part in section.ordinal.split(";") if part.strip()):
            column, _, levels = declaration.partition(":")
            ordered = [level.strip() for level in levels.split("<")]
            if not column.strip() or len(ordered) < 2 or "" in ordered or len(set(ordered)) < len(ordered):
                raise DataError(f"data.csv.ordinal: {declaration!r} must read 'column:low<mid<high' (two or more "
                                "distinct levels)")
            ordinal[column.strip()] = ordered
        options = cls(section.label.strip(), names(section.categorical), ordinal, names(section.ignore), section.delimiter)
        named = [options.label] * bool(options.label) + list(options.categorical) + list(ordinal) + list(options.ignore)
        twice = sorted({name for name in named if named.count(name) > 1})
        if twice:
            raise DataError(f"data.csv names the column {twice[0]!r} twice (label, categorical, ordinal and ignore "
                            "each take a column of their own)")
        return options

    def tag(self) -> str:
        """8 hex digits naming these options (they change what is prepared)."""
        text = json.dumps(dataclasses.asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:8]


@dataclasses.dataclass(frozen=True)
class CsvTable:
    """A CSV file read and split.

    Attributes:
      path: the file's absolute path; content: 12 hex digits of its SHA-256.
      rows: {'train' | 'test': the input columns, a DataFrame}.
      labels: {'train' | 'test': [n] int64} and classes (the label's values as text, sorted); empty without a label.
      encoder: the `TableEncoder` fitted on the train rows.
    """

    path: str
    content: str
    rows: dict
    labels: dict
    classes: tuple[str, ...]
    encoder: TableEncoder

    def tag(self) -> str:
        return tag_of(self.path, self.content, "table")

    @property
    def has_missing(self) -> bool:
        return any(bool(rows.isna().to_numpy().any()) for rows in self.rows.values())

    def fields(self, split: str) -> dict[str, np.ndarray]:
        """{'numeric' [n, numeric columns] float32, 'categorical' [n, categorical columns] int32 (when
        the table has some), their masks 'numeric_observed' and 'categorical_observed' (when a cell
        of the file is missing), 'label' [n] (with a label)}: the split's model inputs."""
        fields = self.encoder.fields(self.rows[split])
        if not self.encoder.categorical_columns:
            del fields["categorical"], fields["categorical_observed"]
        if not self.has_missing:
            fields = {name: values for name, values in fields.items() if not name.endswith("_observed")}
        if self.classes:
            fields["label"] = self.labels[split]
        return fields


def read(path: str, options: CsvOptions, *, test_fraction: float, split_seed: int) -> CsvTable:
    """The CSV at `path`, its columns typed by `options`, split and its transform fitted.

    Raises:
      DataError: the file cannot be read or parsed, a named column is absent, a label is missing,
        an ordinal value is not one of its levels, or a column has no value at all.
    """
    content = content_hash(path, "the CSV file data.path")
    key = (os.path.abspath(path), content, options.tag(), float(test_fraction), int(split_seed))
    if key not in _READ:  # A run opens the data set several times: read, split and fit once.
        _READ.clear()
        _READ[key] = _read(path, content, options, test_fraction=test_fraction, split_seed=split_seed)
    return _READ[key]


_READ: dict = {}  # The last table `read`, by file, content, options and split.


def _read(path: str, content: str, options: CsvOptions, *, test_fraction: float, split_seed: int) -> CsvTable:
    where = f"data.path={path!r}"
    frame = read_frame(path, options.delimiter, where)
    if len(frame.columns) < 2:
        raise DataError(f"{where} has {len(frame.columns)} column ({list(frame.columns)}): is it separated by "
                        f"another character than data.csv.delimiter={options.delimiter!r}?")
    inputs, label = typed_inputs(frame, options, where=where, whole_file=True)
    labels, classes = {}, ()
    if options.label:
        if label.isna().any():
            raise DataError(f"{where}: the label column {options.label!r} is missing at row "
                            f"{int(np.flatnonzero(label.isna())[0])}")
        text = label.astype(str).to_numpy()
        classes = tuple(sorted(set(text)))
        label_ids = np.searchsorted(np.asarray(classes), text).astype(np.int64)
    test = splits.drawn_test(label_ids if options.label else np.zeros(len(frame)), test_fraction, split_seed,
                             where=where)
    rows = {"train": inputs[~test].reset_index(drop=True), "test": inputs[test].reset_index(drop=True)}
    if options.label:
        labels = {"train": label_ids[~test], "test": label_ids[test]}
    encoder = TableEncoder().fit(rows["train"])
    return CsvTable(os.path.abspath(path), content, rows, labels, classes, encoder)


def read_frame(path: str, delimiter: str, where: str):
    """The CSV file at `path` as a DataFrame (pandas' reading); DataError naming `where` when it cannot be read."""
    import pandas as pd

    try:
        return pd.read_csv(path, sep=delimiter, skipinitialspace=True)
    except (ValueError, OSError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataError(f"{where} cannot be read as a CSV table: {str(error).splitlines()[0]}") from None


def _category_text(series):
    """A column's values as text, missing ones kept missing; whole numbers without a decimal point,
    so that a number-like category reads the same whether a gap made pandas read its column as floats."""
    import pandas as pd

    if pd.api.types.is_float_dtype(series.dtype):
        values = series.dropna()
        if len(values) and (values == values.round()).all():
            series = series.astype("Int64")
    return series.astype("string")


def typed_inputs(frame, options: CsvOptions, *, where: str, whole_file: bool = False):
    """A DataFrame of the CSV's columns -> (the input columns typed as `options` say, the label column
    or None): the label and ignored columns set aside, `categorical` ones as text, `ordinal` ones as
    ordered Categoricals. A loaded run applies it to the raw rows it is given, which may lack the
    label and ignored columns; the file itself (`whole_file`) must hold every column `options` names.

    Raises:
      DataError: a column `options` names is absent, or an ordinal value is not one of its levels.
    """
    import pandas as pd

    frame = frame.rename(columns=lambda name: str(name).strip())
    named = [*options.categorical, *options.ordinal]
    if whole_file:
        named += [options.label] * bool(options.label) + list(options.ignore)
    absent = [name for name in named if name not in frame.columns]
    if absent:
        raise DataError(f"{where} has no column {absent[0]!r} (named in data.csv); its columns are {list(frame.columns)}")
    label = frame[options.label] if options.label in frame.columns else None
    inputs = frame.drop(columns=[name for name in (options.label, *options.ignore) if name in frame.columns])
    if inputs.shape[1] == 0:
        raise DataError(f"{where} has no input column left once data.csv.label and data.csv.ignore are set aside")
    for name in options.categorical:
        inputs[name] = _category_text(inputs[name]).astype(object).where(inputs[name].notna(), None)
    for name, levels in options.ordinal.items():
        text = _category_text(inputs[name])
        unknown = text.notna() & ~text.isin(levels)
        if unknown.any():
            row = int(np.flatnonzero(unknown)[0])
            raise DataError(f"{where}: column {name!r} holds {text.iloc[row]!r} at row {row}, not one of its "
                            f"data.csv.ordinal levels {levels}")
        inputs[name] = pd.Categorical(text.astype(object).where(text.notna(), None), categories=levels, ordered=True)
    return inputs, label


def transform_json(table: CsvTable, options: CsvOptions) -> dict:
    """The run's `input_transform`: the fitted encoder's JSON and the options that type raw columns."""
    return table.encoder.to_json() | {"csv": dataclasses.asdict(options)}


def options_of_json(record: dict) -> CsvOptions | None:
    """The `CsvOptions` a recorded `input_transform` carries, or None (a table not read from a CSV)."""
    return CsvOptions(**{**record["csv"], "categorical": tuple(record["csv"]["categorical"]),
                         "ignore": tuple(record["csv"]["ignore"])}) if "csv" in record else None
