"""Seeded splits: train/test of a user's data (an image folder, a CSV table), class by class, and the
validation part carved from a training split for early stopping."""

from __future__ import annotations

import numpy as np

from jaxae.errors import DataError


def drawn_test(groups, test_fraction: float, seed: int, *, where: str, field: str = "data.test_fraction",
               parts: tuple[str, str] = ("train", "test")) -> np.ndarray:
    """[n] bool: round(test_fraction x size) examples of each group (a class; one group for
    unlabelled data, `groups` all equal) drawn by `seed` as test, so each class keeps its share.

    Raises:
      DataError: the draw leaves either part (`parts`) empty; `where` names the data, `field` the fraction.
    """
    groups = np.asarray(groups)
    test = np.zeros(len(groups), bool)
    for group in np.unique(groups):
        members = np.flatnonzero(groups == group)
        drawn = np.random.default_rng([seed, len(members)]).permutation(len(members))
        test[members[drawn[:round(test_fraction * len(members))]]] = True
    if test.all() or not test.any():
        raise DataError(f"{field}={test_fraction} leaves the {parts[0] if test.all() else parts[1]} part "
                        f"of {where} ({len(groups)} examples) empty")
    return test


def carve(source, fraction: float, seed: int):
    """(the training part, the validation part) of `source`: round(fraction x n) of its examples,
    drawn uniformly by `seed`, are the validation part (never trained on); both keep `source`'s order.

    Raises:
      DataError: either part would be empty.
    """
    validation = drawn_test(np.zeros(len(source)), fraction, seed, where=source.where,
                            field="early_stopping.validation_fraction", parts=("training", "validation"))
    carved = {"fraction": fraction, "seed": seed}
    return (SubsetSource(source, np.flatnonzero(~validation), "train", carved),
            SubsetSource(source, np.flatnonzero(validation), "validation", carved))


class SubsetSource:
    """Some examples of another source, in its order: early stopping's training and validation parts
    of a split (`splits.carve`). Its origin is the other source's with the carving, so tools that
    read a run's data carve the same examples again."""

    def __init__(self, source, indices, part: str, carved: dict):
        self.source, self.indices, self.part = source, np.asarray(indices, np.int64), part
        self.spec, self.metadata = source.spec, getattr(source, "metadata", {})
        self.values_checked = getattr(source, "values_checked", False)
        self.where = f"the {part} part of {source.where}"
        self.origin = dict(getattr(source, "origin", None) or {"kind": "arrays", "name": source.where})
        self.origin["carved"] = dict(carved, part=part)
        self._fingerprint = f"{source.fingerprint()} {part}={carved['fraction']:g}@seed{carved['seed']}"

    def __len__(self) -> int:
        return len(self.indices)

    def read(self, indices, fields=None) -> dict[str, np.ndarray]:
        return self.source.read(self.indices[np.asarray(indices, np.int64)], fields)

    def fingerprint(self) -> str:
        return self._fingerprint
