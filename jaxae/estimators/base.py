"""What the scikit-learn-shaped estimators share: reading X as images or a table, training a
config on it through the shared loop, and saving a fitted estimator as a folder without pickle.

X is either
  images  [n, H, W] or [n, H, W, C] numbers, scaled to [0, 1] by the range seen in `fit`, trained
          by the autoencoder family (a dense AE or VAE, Bernoulli likelihood over grey levels); or
  a table [n, columns] (a NumPy array of numbers, or a pandas DataFrame of numeric, ordered
          categorical and categorical columns), read by `jaxae.tables.TableEncoder` and trained by
          the tabular family (each column reconstructed with its own loss).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile

import numpy as np
from sklearn.utils.validation import check_array, check_is_fitted

from jaxae.data.sources import ArraySource
from jaxae.errors import DataError
from jaxae.tables import TableEncoder, is_frame

STATE_FILE = "estimator.json"


def checked_array(X, *, min_samples: int = 1) -> np.ndarray:
    """X [n, d] or [n, H, W(, C)] of numbers, validated by scikit-learn, as float64."""
    X = check_array(X, allow_nd=True, dtype=np.float64, ensure_min_samples=min_samples, input_name="X")
    if X.ndim > 4:
        raise DataError(f"X must be [n, features] or images [n, H, W] / [n, H, W, C]; got shape {X.shape}")
    return X


def cadence(config, steps_per_epoch: int):
    """Logs every epoch, saves about every 500 steps and at the end, evaluates at the end only,
    draws no pictures: an estimator's run is a means, not something to watch."""
    config.eval_every, config.num_image_examples = 0, 0
    config.log_every = steps_per_epoch
    config.checkpoint_every = steps_per_epoch * max(1, 500 // steps_per_epoch)
    return config


def eval_batch(num_examples: int, most: int = 512) -> int:
    """Examples per eval batch: `most`, or fewer for a smaller data set, rounded up to a multiple of the devices."""
    import jax

    devices = jax.device_count()
    return -(-min(most, num_examples) // devices) * devices


def devices_batch(batch_size: int, num_examples: int) -> int:
    """`batch_size` capped at the number of examples, rounded down to a multiple of the devices."""
    import jax

    devices = jax.device_count()
    if num_examples < devices:
        raise DataError(f"X has {num_examples} rows: at least one per device ({devices}) is needed to train")
    return max(devices, min(batch_size, num_examples) // devices * devices)


class Inputs:
    """How one estimator reads X: as images or as a table, with the scaling seen in `fit`.

    Attributes (JSON, see `to_json`): kind ('images' or 'table'); for images `shape`, the fitted
    X's shape per example ((H, W), (H, W, C), or (d,) for rows read as 1 x d images), and the range
    (low, high) of its values; for tables the fitted `TableEncoder`.
    """

    def __init__(self, kind: str, shape=None, low: float = 0.0, high: float = 1.0, table: TableEncoder | None = None):
        self.kind, self.low, self.high, self.table = kind, low, high, table
        self.shape = tuple(shape) if shape is not None else None

    @classmethod
    def fit(cls, X, *, min_samples: int = 2, tables: bool = True) -> "Inputs":
        """Reads X's kind (2-D or a DataFrame: a table, unless `tables` is False, when rows are
        images 1 pixel high; 3-D or 4-D: images) and its scaling."""
        if is_frame(X) and tables:
            if len(X) < min_samples:
                raise ValueError(f"X has {len(X)} rows; at least {min_samples} are needed")
            return cls("table", table=TableEncoder().fit(X))
        X = checked_array(X, min_samples=min_samples)
        if X.ndim == 2 and tables:
            return cls("table", table=TableEncoder().fit(X))
        return cls("images", shape=X.shape[1:], low=float(X.min()), high=float(X.max()))

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(H, W, C) of the images the model sees."""
        if len(self.shape) == 1:
            return (1, self.shape[0], 1)
        return self.shape if len(self.shape) == 3 else (*self.shape, 1)

    @property
    def num_features(self) -> int:
        return len(self.table.columns) if self.kind == "table" else int(np.prod(self.shape))

    def arrays(self, X, who: str = "this model") -> dict[str, np.ndarray]:
        """X -> the family's fields: {'image': [n, H, W, C] float32 in [0, 1]} or
        {'numeric': [n, d] float32, 'categorical': [n, columns] int32}."""
        if self.kind == "table":
            if not is_frame(X):
                X = checked_array(X)
                if X.ndim != 2:
                    raise DataError(f"X must be a table [n, {self.num_features}] like the one fitted; got shape {X.shape}")
                if X.shape[1] != self.num_features:  # scikit-learn's words, which its checks expect.
                    raise DataError(f"X has {X.shape[1]} features, but {who} is expecting {self.num_features} "
                                    "features as input")
            numeric, categorical = self.table.transform(X)
            return {"numeric": numeric, "categorical": categorical}
        X = checked_array(X)
        if X.shape[1:] != self.shape:
            raise DataError(f"X has {X.shape[1:]} features per example; {who} was fitted on {self.shape}")
        span = self.high - self.low or 1.0
        images = X.reshape(len(X), *self.image_shape)
        return {"image": np.clip((images - self.low) / span, 0.0, 1.0).astype(np.float32)}

    def images_back(self, images: np.ndarray) -> np.ndarray:
        """Model images [n, H, W, C] in [0, 1] -> the fitted X's range and shape per example."""
        return (images * (self.high - self.low) + self.low).reshape(len(images), *self.shape)

    def source(self, X) -> ArraySource:
        arrays = self.arrays(X)
        if self.kind == "images":
            return ArraySource(arrays, name="X")
        if not self.table.categorical_columns:
            arrays.pop("categorical")
        return ArraySource(arrays, kinds={"numeric": "dense", "categorical": "ids"},
                           vocab_sizes={"categorical": max(self.table.cardinalities, default=1)}, name="X")

    def to_json(self) -> dict:
        if self.kind == "table":
            return {"kind": "table", "table": self.table.to_json()}
        return {"kind": "images", "shape": list(self.shape), "low": self.low, "high": self.high}

    @classmethod
    def from_json(cls, record: dict) -> "Inputs":
        if record["kind"] == "table":
            return cls("table", table=TableEncoder.from_json(record["table"]))
        return cls("images", shape=record["shape"], low=record["low"], high=record["high"])


class TrainedEstimator:
    """Mixin: `_train(config, X)` runs the shared loop in `workdir` (a temporary folder when
    empty); `save(path)` and `load(path)` keep the run and the estimator's JSON state together."""

    def _train(self, config, source) -> None:
        from jaxae import loop
        from jaxae.inference import load

        self.workdir_ = os.path.abspath(self.workdir or tempfile.mkdtemp(prefix=f"jaxae-{type(self).__name__.lower()}-"))
        with contextlib.nullcontext() if self.verbose else silenced():
            loop.train(config, self.workdir_, source, source)
        self.model_ = load(self.workdir_)

    def _state(self) -> dict:
        """The fitted attributes beyond the run, as JSON (the estimator's own)."""
        return {}

    def _set_state(self, state: dict) -> None:
        del state

    def save(self, path: str) -> str:
        """Copies the run (Orbax checkpoint, run record) to the new folder `path` and writes the
        estimator's parameters and fitted attributes as JSON beside it. Returns the folder."""
        check_is_fitted(self, "model_")
        path = os.path.abspath(os.path.expanduser(path))
        if os.path.exists(path):
            raise FileExistsError(f"{path} exists; choose a new folder (nothing was written)")
        shutil.copytree(self.workdir_, path, ignore=shutil.ignore_patterns("*.lock", "tensorboard", "images"))
        state = {"class": type(self).__name__, "params": self.get_params(), "state": self._state()}
        with open(os.path.join(path, STATE_FILE), "w") as out:
            json.dump(state, out, default=_jsonable)
        return path

    @classmethod
    def load(cls, path: str):
        """The estimator that `save` wrote to `path`, ready to use (its run read back by `jaxae.load`)."""
        from jaxae.inference import load

        path = os.path.abspath(os.path.expanduser(path))
        file = os.path.join(path, STATE_FILE)
        if not os.path.isfile(file):
            raise FileNotFoundError(f"{path!r} holds no saved {cls.__name__} (no {STATE_FILE})")
        with open(file) as record:
            saved = json.load(record)
        if saved.get("class") != cls.__name__:
            raise DataError(f"{path!r} holds a saved {saved.get('class')!r}, not a {cls.__name__}")
        params = {name: tuple(value) if isinstance(value, list) else value for name, value in saved["params"].items()}
        estimator = cls(**params)  # Its `workdir` as saved: a refit (or a clone's) trains elsewhere, not in `path`.
        estimator.workdir_, estimator.model_ = path, load(path)
        estimator._set_state(saved["state"])
        return estimator


def _jsonable(value):
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON")


@contextlib.contextmanager
def silenced():
    """The training loop's progress bar and lines kept out of the caller's output."""
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        yield
