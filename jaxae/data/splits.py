"""Seeded splits: train/test of a user's data (an image folder, a CSV table), class by class, and the
validation part carved from a training split for early stopping."""

from __future__ import annotations

import numpy as np

from jaxae.errors import DataError


def drawn_test(groups, test_fraction: float, seed: int, *, where: str) -> np.ndarray:
    """[n] bool: round(test_fraction x size) examples of each group (a class; one group for
    unlabelled data, `groups` all equal) drawn by `seed` as test, so each class keeps its share.

    Raises:
      DataError: the draw leaves the train or the test split empty (`where` names the data).
    """
    groups = np.asarray(groups)
    test = np.zeros(len(groups), bool)
    for group in np.unique(groups):
        members = np.flatnonzero(groups == group)
        drawn = np.random.default_rng([seed, len(members)]).permutation(len(members))
        test[members[drawn[:round(test_fraction * len(members))]]] = True
    if test.all() or not test.any():
        raise DataError(f"data.test_fraction={test_fraction} leaves the {'train' if test.all() else 'test'} split "
                        f"of {where} ({len(groups)} examples) empty")
    return test


def carve(source, fraction: float, seed: int):
    """(the training part, the validation part) of `source`: round(fraction x n) of its examples,
    drawn uniformly by `seed`, are the validation part (never trained on); both keep `source`'s order.

    Raises:
      DataError: either part would be empty.
    """
    from jaxae.data.sources import SubsetSource

    validation = drawn_test(np.zeros(len(source)), fraction, seed, where=source.where)
    carved = {"fraction": fraction, "seed": seed}
    return (SubsetSource(source, np.flatnonzero(~validation), "train", carved),
            SubsetSource(source, np.flatnonzero(validation), "validation", carved))
