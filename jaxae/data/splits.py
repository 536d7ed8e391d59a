"""Seeded train/test splits of a user's data (an image folder, a CSV table), class by class."""

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
