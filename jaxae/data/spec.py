"""Typed fields: what a source holds and what a trainer asks for, each checked by its kind.

A source describes each of its fields with a `Field` (kind, per-example shape, dtype, and the
vocabulary or class count where one applies). A trainer names the fields it needs and their
kinds; the loop matches the two before anything is compiled, and every array read is checked
against its field, so a bad value is reported with the field's name and the example's index.

Kinds:
  image   uint8 in [0, 255] or floating in [0, 1], shape (H, W, C)
  dense   floating, finite, any shape
  ids     integers in [0, vocab_size), any shape (vocab_size None: only >= 0 is checked)
  label   integer class labels >= 0, shape () (below num_classes when it is known)
  mask    0 or 1 (bool, integer or floating), any shape
"""

from __future__ import annotations

import dataclasses

import numpy as np

from jaxae.errors import DataError

KINDS = ("image", "dense", "ids", "label", "mask")
INDEX = "index"  # Added to every batch: each example's position in its split, int32.


@dataclasses.dataclass(frozen=True)
class Field:
    """One field of a source. shape: per example; vocab_size: ids and (as class count) labels."""

    kind: str
    shape: tuple[int, ...]
    dtype: str
    vocab_size: int | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise DataError(f"field kind {self.kind!r} is unknown; choose one of {list(KINDS)}")
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))
        object.__setattr__(self, "dtype", np.dtype(self.dtype).name)

    def to_json(self) -> dict:
        return dataclasses.asdict(self) | {"shape": list(self.shape)}

    @classmethod
    def from_json(cls, record: dict) -> "Field":
        return cls(record["kind"], tuple(record["shape"]), record["dtype"], record.get("vocab_size"))


Spec = dict  # {field name: Field}


def spec_to_json(spec: Spec) -> dict:
    return {name: field.to_json() for name, field in sorted(spec.items())}


def spec_from_json(record: dict) -> Spec:
    return {name: Field.from_json(value) for name, value in record.items()}


def stored_dtype(dtype) -> np.dtype:
    """The dtype a field travels in: floats as float32, integers as int32 (JAX's defaults), the rest as is."""
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.floating):
        return np.dtype(np.float32)
    if np.issubdtype(dtype, np.integer) and dtype != np.uint8:
        return np.dtype(np.int32)
    return dtype


def field_of(kind: str, values: np.ndarray, vocab_size: int | None = None) -> Field:
    """The Field describing `values` [n, ...] as `kind` (in the dtype it travels in)."""
    return Field(kind, values.shape[1:], stored_dtype(values.dtype), vocab_size)


def require(spec: Spec, wanted: dict[str, str], *, who: str, where: str) -> None:
    """Raises DataError unless `spec` holds every field of `wanted` ({name: kind}) with that kind."""
    for name, kind in wanted.items():
        if name not in spec:
            raise DataError(f"{who} needs a field {name!r} ({kind}) but {where} has only "
                            f"{sorted(spec) or 'no fields'}")
        if spec[name].kind != kind:
            raise DataError(f"{who} needs field {name!r} as {kind}, but in {where} it is {spec[name].kind}")


def _first_bad(bad: np.ndarray, indices) -> tuple[int, tuple]:
    """(example index in the split, position within the example) of the first True in `bad`."""
    where = tuple(int(i) for i in np.argwhere(bad)[0])
    example = int(indices[where[0]]) if indices is not None else where[0]
    return example, where[1:]


def check_shape(name: str, field: Field, values: np.ndarray, *, where: str) -> None:
    """Raises DataError unless `values` is [n, *field.shape]."""
    if tuple(values.shape[1:]) != field.shape:
        raise DataError(f"{where} field {name!r} must be [n, {', '.join(map(str, field.shape))}] per example; "
                        f"got shape {values.shape}")


def check_values(name: str, field: Field, values: np.ndarray, *, where: str, indices=None) -> None:
    """Raises DataError naming the field, the example index and the value of the first bad entry.

    Args:
      values: [n, *field.shape], the field's values for n examples.
      indices: [n] the examples' indices in their split (default 0..n-1), for the message.
    """
    check_shape(name, field, values, where=where)
    dtype = values.dtype
    if field.kind == "image":
        if dtype == np.uint8:
            return
        if not np.issubdtype(dtype, np.floating):
            raise DataError(f"{where} field {name!r} must be uint8 in [0, 255] or floating in [0, 1]; got dtype {dtype}")
        bad, rule = ~np.isfinite(values) | (values < 0) | (values > 1), "must be finite and lie in [0, 1]"
    elif field.kind == "dense":
        if not np.issubdtype(dtype, np.floating):
            raise DataError(f"{where} field {name!r} must be floating point; got dtype {dtype}")
        bad, rule = ~np.isfinite(values), "must be finite"
    elif field.kind in ("ids", "label"):
        if not np.issubdtype(dtype, np.integer):
            raise DataError(f"{where} field {name!r} must hold integers; got dtype {dtype}")
        limit = field.vocab_size
        bad = (values < 0) | (values >= limit) if limit is not None else values < 0
        rule = f"must lie in [0, {limit})" if limit is not None else "must be >= 0"
    else:  # mask
        bad, rule = (values != 0) & (values != 1), "must be 0 or 1"
    if bad.any():
        example, position = _first_bad(bad, indices)
        value = values[(int(np.argwhere(bad)[0][0]),) + position]
        at = f"example {example}" + (f" at {position}" if position else "")
        raise DataError(f"{where} field {name!r} {rule}; {at} has {value} ({int(bad.sum())} bad values)")


def check_batch(spec: Spec, batch: dict[str, np.ndarray], *, where: str, indices=None) -> None:
    """check_values for every field of `batch` that `spec` describes."""
    for name, values in batch.items():
        if name in spec:
            check_values(name, spec[name], values, where=where, indices=indices)


def check_read(source, batch: dict[str, np.ndarray], indices) -> None:
    """check_batch of what `source` gave for `indices` [n], unless the source's values were checked
    when it was made (`values_checked`, as an `ArraySource`'s): every value is checked once, where it
    enters host memory."""
    if not getattr(source, "values_checked", False):
        check_batch(source.spec, batch, where=source.where, indices=indices)
