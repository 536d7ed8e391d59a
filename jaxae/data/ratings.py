"""Explicit ratings (user, item, rating) laid out as the rows of a rating matrix, for AutoRec.

Three sources, all offline:

* ``ml-100k``: MovieLens-100K (100,000 ratings 1-5 of 1,682 films by 943 users), read from RecBole's
  wheel, which carries it (``pip install --no-deps recbole``: RecBole's own dependencies, torch
  among them, are not needed to read a file). GroupLens' licence forbids redistributing it, so
  jaxae does not ship it.
* a ``user,item,rating`` CSV file of your own (a path): comma- or tab-separated, an optional
  header line, any further columns ignored.
* ``synthetic``: a small set generated here from item and user biases and a low-rank interaction
  (tests and tiny configs).

A seeded split holds out `test_fraction` of the ratings (drawn uniformly, as in the AutoRec paper's
90/10 protocol). Rows are items (I-AutoRec: each item's ratings over users) or users (U-AutoRec).
Both splits hold every row, in the same order, so an example's index is its row id:

  ratings            dense [columns] float32: the row's training ratings, 0 where there is none
  observed           mask [columns] bool: where the row has a training rating
  held_out           dense [columns] float32: the row's held-out ratings (all 0 in the train split)
  held_out_observed  mask [columns] bool: where the row has a held-out rating (none in the train split)
"""

from __future__ import annotations

import csv
import dataclasses
from importlib import resources

import numpy as np

from jaxae.config import checks
from jaxae.data.files import content_hash
from jaxae.errors import DataError

MOVIELENS_100K = "ml-100k"
SYNTHETIC = "synthetic"
ROWS = ("items", "users")
RECBOLE_INSTALL = "pip install --no-deps recbole"


@dataclasses.dataclass(frozen=True)
class RatingsTable:
    """Ratings as parallel arrays: the i-th rating is `rating[i]` by `users[user[i]]` of `items[item[i]]`.

    Attributes:
      users, items: [num_users], [num_items] the raw ids as strings, sorted.
      user, item: [n] int32 positions in `users` and `items`.
      rating: [n] float32.
    """

    users: np.ndarray
    items: np.ndarray
    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray

    @classmethod
    def from_triples(cls, users, items, ratings, *, where: str) -> "RatingsTable":
        """Raw ids and ratings [n] -> the table; DataError for no ratings, a non-finite one, or a pair rated twice."""
        rating = np.asarray(ratings, np.float32)
        if rating.size == 0:
            raise DataError(f"{where} holds no ratings")
        if not np.all(np.isfinite(rating)):
            raise DataError(f"{where}: rating {int(np.flatnonzero(~np.isfinite(rating))[0])} is not finite")
        user_ids, user = np.unique(np.asarray(users, str), return_inverse=True)
        item_ids, item = np.unique(np.asarray(items, str), return_inverse=True)
        pair = user.astype(np.int64) * len(item_ids) + item
        unique, first, counts = np.unique(pair, return_index=True, return_counts=True)
        if len(unique) != len(pair):
            twice = first[np.argmax(counts > 1)]
            raise DataError(f"{where}: user {str(user_ids[user[twice]])!r} rates item {str(item_ids[item[twice]])!r} more than once")
        return cls(user_ids, item_ids, user.astype(np.int32), item.astype(np.int32), rating)


def read_csv(path: str) -> RatingsTable:
    """A `user,item,rating` file (comma or tab separated, optional header) -> RatingsTable.

    Raises:
      DataError: the file is missing or unreadable, or a line has fewer than three columns or a
        rating that is not a finite number (naming the file and the line).
    """
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            lines = [(number, line) for number, line in enumerate(handle, start=1) if line.strip()]
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"cannot read the ratings file {path!r}: {getattr(error, 'strerror', None) or error}") from None
    delimiter = "\t" if lines and "\t" in lines[0][1] else ","
    users, items, ratings = [], [], []
    for (number, _), row in zip(lines, csv.reader([line for _, line in lines], delimiter=delimiter)):
        if len(row) < 3:
            raise DataError(f"{path} line {number}: expected user{delimiter}item{delimiter}rating, got "
                            f"{delimiter.join(row)!r}")
        try:
            rating = float(row[2])
        except ValueError:
            if number == lines[0][0]:  # The first line may be a header.
                continue
            raise DataError(f"{path} line {number}: the rating {row[2]!r} is not a number") from None
        if not np.isfinite(rating):
            raise DataError(f"{path} line {number}: the rating {row[2]!r} is not finite")
        users.append(row[0].strip())
        items.append(row[1].strip())
        ratings.append(rating)
    return RatingsTable.from_triples(users, items, ratings, where=path)


def movielens_100k_path() -> str:
    """The path of MovieLens-100K's ratings in RecBole's wheel; DataError naming the install when absent."""
    try:
        root = resources.files("recbole")
    except ModuleNotFoundError:
        raise DataError(f"MovieLens-100K is read from RecBole's wheel, which is not installed: {RECBOLE_INSTALL} "
                        "(its dependencies are not needed), or give data.ratings.source a user,item,rating CSV") from None
    path = root.joinpath("dataset_example", "ml-100k", "ml-100k.inter")
    if not path.is_file():
        raise DataError(f"the installed recbole has no {path}; reinstall it with {RECBOLE_INSTALL}")
    return str(path)


def movielens_100k_titles() -> dict[str, str]:
    """{item id: 'Title (year)'} of MovieLens-100K's films, from RecBole's wheel."""
    path = movielens_100k_path().replace("ml-100k.inter", "ml-100k.item")
    with open(path, newline="", encoding="latin-1") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))[1:]
    return {row[0]: f"{row[1]} ({row[2]})" if row[2] else row[1] for row in rows if len(row) >= 3}


def synthetic(num_users: int = 240, num_items: int = 160, rank: int = 3, density: float = 0.2,
              seed: int = 0) -> RatingsTable:
    """Ratings 1-5 from each item's and user's bias plus a rank-`rank` interaction and noise, each
    (user, item) pair rated with probability `density`: small, learnable data that ships with the
    code (the biases make a row's ratings informative, as films' are in MovieLens)."""
    rng = np.random.default_rng(seed)
    users = rng.normal(size=(num_users, rank))
    items = rng.normal(size=(num_items, rank))
    biases = rng.normal(0, 0.8, size=(1, num_items)) + rng.normal(0, 0.4, size=(num_users, 1))
    scores = biases + 0.5 * users @ items.T / np.sqrt(rank) + 0.3 * rng.normal(size=(num_users, num_items))
    ratings = np.clip(np.round(3 + scores), 1, 5)
    user, item = np.nonzero(rng.random((num_users, num_items)) < density)
    return RatingsTable.from_triples([f"u{u}" for u in user], [f"i{i}" for i in item], ratings[user, item],
                                     where="the synthetic ratings")


def load_table(source: str) -> RatingsTable:
    """data.ratings.source -> its RatingsTable."""
    if source == MOVIELENS_100K:
        return read_csv(movielens_100k_path())
    if source == SYNTHETIC:
        return synthetic()
    return read_csv(source)


def source_tag(source: str) -> str:
    """A short name for `source` that changes with a CSV file's content: 'ml-100k', 'synthetic', 'csv-<sha>'."""
    if source in (MOVIELENS_100K, SYNTHETIC):
        return source
    return "csv-" + content_hash(source, "the ratings file")


def held_out_mask(num_ratings: int, *, seed: int, test_fraction: float) -> np.ndarray:
    """[num_ratings] bool: round(test_fraction * n) ratings drawn uniformly by `seed` are held out."""
    held_out = np.random.default_rng([seed, num_ratings]).permutation(num_ratings)[:round(test_fraction * num_ratings)]
    mask = np.zeros(num_ratings, bool)
    mask[held_out] = True
    return mask


def splits(table: RatingsTable, *, rows: str, seed: int, test_fraction: float) -> dict[str, dict[str, np.ndarray]]:
    """{'train': fields, 'test': fields} as the module docstring lays them out, one example per row."""
    row, column = (table.item, table.user) if rows == "items" else (table.user, table.item)
    shape = (len(table.items), len(table.users)) if rows == "items" else (len(table.users), len(table.items))
    held_out = held_out_mask(len(table.rating), seed=seed, test_fraction=test_fraction)

    def matrix(which):
        values, observed = np.zeros(shape, np.float32), np.zeros(shape, bool)
        values[row[which], column[which]] = table.rating[which]
        observed[row[which], column[which]] = True
        return values, observed

    ratings, observed = matrix(~held_out)
    target, target_observed = matrix(held_out)
    train = {"ratings": ratings, "observed": observed}
    return {"train": train, "test": train | {"held_out": target, "held_out_observed": target_observed}}


def validate_options(config) -> None:
    """Checks `data.ratings` (when the data section has one): source, rows, split_seed, test_fraction."""
    if "ratings" not in config.data:
        return
    checks.named_or_file(config, "data.ratings.source", (MOVIELENS_100K, SYNTHETIC), what="a CSV path")
    checks.choice(config, "data.ratings.rows", ROWS)
    checks.number(config, "data.ratings.split_seed", low=0, high=2**32 - 1, integer=True)
    checks.number(config, "data.ratings.test_fraction", low=0, high=1, low_open=True, high_open=True)
