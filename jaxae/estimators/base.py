"""What the scikit-learn-shaped estimators share: reading X as images or a table, training a
config on it through the shared loop, and saving a fitted estimator as a folder without pickle.

X is either
  images  [n, H, W] or [n, H, W, C] numbers, scaled to [0, 1] by the range seen in `fit`, trained
          by the autoencoder family (a dense AE or VAE, Bernoulli likelihood over grey levels); or
  a table [n, columns] (a NumPy array of numbers, or a pandas DataFrame of numeric, ordered
          categorical and categorical columns), read by `jaxae.data.tables.TableEncoder` and trained by
          the tabular family (each column reconstructed with its own loss).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import tempfile
import uuid
import weakref

import numpy as np
from sklearn.utils.validation import check_array, check_is_fitted

from jaxae.data.sources import ArraySource
from jaxae.data.tables import FIELD_KINDS, TableEncoder, is_frame
from jaxae.errors import ConfigError, DataError, WorkdirError
from jaxae.runs.workdir import LOCK_FILE, OUTPUTS, WorkdirLock

STATE_FILE = "estimator.json"  # In a folder `save` wrote.
FIT_FILE = "estimator-fit.json"  # In a run folder a fit trained in: the estimator's class and the fit's id.
RUN_OUTPUTS = (*OUTPUTS, LOCK_FILE)  # What a run leaves in its folder.


def checked_array(X, *, min_samples: int = 1, allow_nan: bool = False) -> np.ndarray:
    """X [n, d] or [n, H, W(, C)] of numbers, validated by scikit-learn, as float64 (NaN, a missing
    cell, only where `allow_nan`: in a table)."""
    X = check_array(X, allow_nd=True, dtype=np.float64, ensure_min_samples=min_samples, input_name="X",
                    ensure_all_finite="allow-nan" if allow_nan else True)
    if X.ndim > 4:
        raise DataError(f"X must be [n, features] or images [n, H, W] / [n, H, W, C]; got shape {X.shape}")
    return X


def cadence(config, steps_per_epoch: int):
    """Logs every epoch, saves about every 500 steps and at the end (keeping the newest only),
    evaluates at the end only, draws no pictures: an estimator's run is a means, not something to
    watch."""
    config.eval_every, config.num_image_examples = 0, 0
    config.log_every = steps_per_epoch
    config.checkpoint_every = steps_per_epoch * max(1, 500 // steps_per_epoch)
    config.keep_checkpoints = 1
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
        X = checked_array(X, min_samples=min_samples, allow_nan=tables)
        if X.ndim == 2 and tables:  # A table, where a missing cell (NaN) is allowed.
            return cls("table", table=TableEncoder().fit(X))
        if np.isnan(X).any():
            checked_array(X)  # NaN in images: scikit-learn's own error.
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
        {'numeric': [n, d] float32, 'categorical': [n, columns] int32}, and, where a cell of the
        table is missing, the masks of the observed ones ('numeric_observed', 'categorical_observed')."""
        if self.kind == "table":
            if not is_frame(X):
                X = checked_array(X, allow_nan=True)
                if X.ndim != 2:
                    raise DataError(f"X must be a table [n, {self.num_features}] like the one fitted; got shape {X.shape}")
                if X.shape[1] != self.num_features:  # scikit-learn's words, which its checks expect.
                    raise DataError(f"X has {X.shape[1]} features, but {who} is expecting {self.num_features} "
                                    "features as input")
            fields = self.table.fields(X)
            if fields["numeric_observed"].all() and fields["categorical_observed"].all():
                del fields["numeric_observed"], fields["categorical_observed"]
            return fields
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
            arrays.pop("categorical_observed", None)
        # The run records the column transform, so that `jaxae.load(workdir_)` takes X's raw rows too.
        return ArraySource(arrays, kinds={name: FIELD_KINDS[name] for name in arrays},
                           vocab_sizes={"categorical": max(self.table.cardinalities, default=1)}, name="X",
                           metadata={"input_transform": self.table.to_json()})

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
    """Mixin: `_train(config, X)` runs the shared loop in a run folder and reads the model back;
    `save(path)` and `load(path)` keep the run and the estimator's JSON state together.

    The run folder: with `workdir=''` a temporary folder, removed when the estimator is garbage
    collected or the process exits (unless `keep_workdir`); with a `workdir`, that folder, kept.
    Every `fit` trains afresh, as scikit-learn's refits and searches expect: a workdir holding an
    earlier fit's run is emptied first, unless `keep_workdir`, when the fit refuses; a workdir
    holding anything else (a `train.py` run, a saved estimator, other files) is refused untouched.
    A fitted estimator does not pickle: `save` and `load` write and read an Orbax checkpoint and JSON.
    """

    def _train(self, config, source) -> None:
        from jaxae.engine import loop
        from jaxae.engine.load import load

        if self.workdir:
            self.workdir_ = _claim_workdir(self.workdir, keep=self.keep_workdir)
        else:
            self.workdir_ = tempfile.mkdtemp(prefix=f"jaxae-{type(self).__name__.lower()}-")
            if not self.keep_workdir:  # Holds no reference to self: the estimator can be collected.
                self._remove_workdir = weakref.finalize(self, shutil.rmtree, self.workdir_, ignore_errors=True)
        fit_id = uuid.uuid4().hex
        with open(os.path.join(self.workdir_, FIT_FILE), "w") as marker:
            json.dump({"class": type(self).__name__, "fit": fit_id}, marker)
        try:
            with contextlib.nullcontext() if self.verbose else silenced():
                loop.train(config, self.workdir_, source, source)
        except ConfigError as error:  # In the estimator's words where a parameter set the field.
            raise ConfigError(self._in_parameter_words(str(error))) from None
        self.model_, self.fit_id_ = load(self.workdir_), fit_id

    def _forget_fit(self) -> None:
        """Drops what an earlier fit left (its fitted attributes, its temporary run folder), so that a
        fit that fails leaves an unfitted estimator, never the old model with the new data's scaling."""
        self._release_workdir()
        for name in [name for name in self.__dict__ if name.endswith("_") and not name.startswith("_")]:
            delattr(self, name)

    def _release_workdir(self) -> None:
        """Removes the temporary run folder of an earlier fit now, not at garbage collection."""
        remove = self.__dict__.pop("_remove_workdir", None)
        if remove is not None:
            remove()

    # The config fields that the estimator's parameters set, for messages: {field: parameter}.
    parameter_fields: dict[str, str] = {}

    def _in_parameter_words(self, message: str) -> str:
        """A config error's message with the fields the parameters set named as the parameters."""
        for field, parameter in self.parameter_fields.items():
            message = re.sub(rf"(?<![\w.]){re.escape(field)}=", f"{parameter}=", message)
        return message

    def __getstate__(self):
        if "model_" in self.__dict__:
            raise TypeError(f"a fitted {type(self).__name__} is not pickled (its model is JAX arrays and a run "
                            f"folder): use .save(path) and {type(self).__name__}.load(path), an Orbax checkpoint "
                            "and JSON")
        return super().__getstate__()

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
        fit_id = getattr(self, "fit_id_", None)
        if fit_id is not None and _fit_of(self.workdir_) != fit_id:
            raise DataError(f"workdir={self.workdir_!r} no longer holds this estimator's run: a later fit with the "
                            "same workdir replaced it. Fit again, or give each estimator its own workdir")
        shutil.copytree(self.workdir_, path, ignore=shutil.ignore_patterns("*.lock", "tensorboard", "images", FIT_FILE))
        state = {"class": type(self).__name__, "params": self.get_params(), "state": self._state()}
        with open(os.path.join(path, STATE_FILE), "w") as out:
            json.dump(state, out, default=_jsonable)
        return path

    @classmethod
    def load(cls, path: str):
        """The estimator that `save` wrote to `path`, ready to use (its run read back by `jaxae.load`)."""
        from jaxae.engine.load import load

        path = os.path.abspath(os.path.expanduser(path))
        file = os.path.join(path, STATE_FILE)
        if not os.path.isfile(file):
            raise FileNotFoundError(f"{path!r} holds no saved {cls.__name__} (no {STATE_FILE})")
        with open(file) as record:
            saved = json.load(record)
        if saved.get("class") != cls.__name__:
            raise DataError(f"{path!r} holds a saved {saved.get('class')!r}, not a {cls.__name__}")
        params = {name: tuple(value) if isinstance(value, list) else value for name, value in saved["params"].items()}
        params = {name: value for name, value in params.items() if name in cls._get_param_names()}
        estimator = cls(**params)  # Its `workdir` as saved: a refit (or a clone's) trains elsewhere, not in `path`.
        estimator.workdir_, estimator.model_ = path, load(path)
        estimator._set_state(saved["state"])
        return estimator


def in_canonical_order(method, *arrays):
    """method(*arrays) -> [n, ...], computed on the rows sorted by their bytes and returned in the
    given order, so that a row's result does not depend on where it stands in X: XLA's kernels may
    round a row one way at one place in a batch and another elsewhere (scikit-learn's sample-order
    check), and a VAE's score draws its noise by the row's place. arrays: [n, ...] each, or None."""
    given = [array for array in arrays if array is not None]
    rows = np.concatenate([np.ascontiguousarray(array).reshape(len(array), -1).view(np.uint8) for array in given], 1)
    order = np.argsort(rows.view(np.dtype((np.void, rows.shape[1]))).ravel(), kind="stable")
    result = np.asarray(method(*[None if array is None else array[order] for array in arrays]))
    restored = np.empty_like(result)
    restored[order] = result
    return restored


def _fit_of(workdir: str) -> str | None:
    """The fit id an estimator's marker in `workdir` records, or None."""
    try:
        with open(os.path.join(workdir, FIT_FILE)) as marker:
            return json.load(marker).get("fit")
    except (OSError, ValueError, AttributeError):
        return None


def _claim_workdir(workdir: str, *, keep: bool) -> str:
    """The absolute `workdir`, empty and ready for a fresh fit: created, or emptied of an earlier
    fit's run (which only an estimator's marker identifies; its run folders, checkpoints/, images/
    and tensorboard/, go whole); ValueError, touching nothing, for a folder that holds anything
    else at its top, or an earlier fit that `keep` (keep_workdir) protects."""
    path = os.path.abspath(os.path.expanduser(workdir))
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"workdir={workdir!r} exists and is not a folder")
    entries = set(os.listdir(path)) if os.path.isdir(path) else set()
    if entries:
        if FIT_FILE not in entries or STATE_FILE in entries:
            raise ValueError(f"workdir={workdir!r} holds files that no estimator's fit wrote (a train.py run, a saved "
                             "estimator, other files), which a fit would mix with its own: give an empty or new "
                             "folder, or workdir='' for a temporary one")
        if keep:
            raise ValueError(f"workdir={workdir!r} holds the run of an earlier fit and keep_workdir=True keeps it: give "
                             "another workdir, or keep_workdir=False to let a fit replace it")
        try:
            with WorkdirLock(path):  # A fit still training there (n_jobs > 1 with one workdir) holds it.
                pass
        except WorkdirError:
            raise ValueError(f"workdir={workdir!r} is in use by another fit: estimators fitted in parallel need "
                             "workdir='' (a temporary folder each) or one workdir each") from None
        unknown = entries - set(RUN_OUTPUTS) - {FIT_FILE}
        if unknown:
            raise ValueError(f"workdir={workdir!r} holds an earlier fit's run and other files ({sorted(unknown)[:3]}), "
                             "which a fit would not remove: move them away, or give another workdir")
        shutil.rmtree(path)
    os.makedirs(path, exist_ok=True)
    return path


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
