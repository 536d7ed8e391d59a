"""`AutoencoderTransformer`: an autoencoder's codes as features, in scikit-learn's transformer shape.

    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    import jaxae

    X, y = load_digits(return_X_y=True)
    codes = jaxae.AutoencoderTransformer(n_components=8, random_state=0).fit_transform(X)   # [n, 8]
    probe = make_pipeline(jaxae.AutoencoderTransformer(n_components=8), LogisticRegression(max_iter=1000))
    probe.fit(X, y)

`fit` trains a config built from the estimator's parameters (see `config_for`) through the same
loop as `train.py`, in a run folder (`workdir`; a temporary one by default), then reads the model
back with `jaxae.load`. X is images or a table (`jaxae.estimators.base`).
"""

from __future__ import annotations

import functools
import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from jaxae.config import defaults
from jaxae.config.checks import number_value, widths_value
from jaxae.errors import DataError
from jaxae.data.tables import is_frame
from jaxae.estimators.base import (Inputs, TrainedEstimator, cadence, checked_array, devices_batch, eval_batch,
                                   in_canonical_order)

KINDS = ("ae", "vae")


def config_for(inputs: Inputs, num_examples: int, *, kind: str, n_components: int, hidden, epochs: int,
               batch_size: int, learning_rate: float, random_state: int):
    """The run's config: the autoencoder family for images (a dense AE or VAE with a sigmoid
    output and the Bernoulli likelihood over grey levels), the tabular family for tables."""
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r} is unknown; choose one of {list(KINDS)}")
    if inputs.kind == "table":
        if kind == "vae":
            raise ValueError("kind='vae' is for images; tables are modelled by the tabular autoencoder (kind='ae')")
        config = defaults.get_tabular_config()
        config.table.cardinalities = inputs.table.cardinalities
    else:
        config = defaults.get_base_config()
        config.model.name = kind
        config.data.binarize = "none"
    config.seed = int(random_state)
    config.model.latent_dim, config.model.hidden = int(n_components), tuple(int(width) for width in hidden)
    config.batch_size = devices_batch(int(batch_size), num_examples)
    config.eval_batch_size = eval_batch(num_examples)
    config.num_epochs = int(epochs)
    config.optimizer.learning_rate = float(learning_rate)
    return cadence(config, max(num_examples // config.batch_size, 1))


class AutoencoderEstimator(TrainedEstimator, BaseEstimator):
    """The parameters and `fit` that the autoencoder-based estimators share.

    Args:
      n_components: the code size.
      hidden: the encoder's widths (the decoder mirrors them).
      kind: 'ae' or, for images, 'vae' (its codes are the posterior means).
      epochs, batch_size, learning_rate: Adam's training schedule.
      hide_fraction: tables only: the fraction of each row's observed cells hidden from the input at
        each step (still reconstructed), which teaches the model to fill in missing cells (`impute`).
      random_state: the seed of every random draw (initialisation, batch order, noise).
      workdir: where the run is trained and kept ('' for a temporary folder, removed with the
        estimator); each fit trains afresh there (`estimators.base.TrainedEstimator`).
      keep_workdir: keep every run: a temporary folder outlives the estimator, and a fit refuses
        a workdir that holds an earlier fit's run rather than replacing it.
      verbose: 0 keeps the training loop quiet; 1 shows its progress and metrics.
    """

    parameter_fields = {"model.latent_dim": "n_components", "model.hidden": "hidden", "num_epochs": "epochs",
                        "batch_size": "batch_size", "optimizer.learning_rate": "learning_rate", "seed": "random_state",
                        "table.hide_fraction": "hide_fraction"}

    def __init__(self, n_components: int = 8, *, hidden: tuple = (128, 64), kind: str = "ae", epochs: int = 100,
                 batch_size: int = 64, learning_rate: float = 1e-3, hide_fraction: float = 0.0, random_state: int = 0,
                 workdir: str = "", keep_workdir: bool = False, verbose: int = 0):
        self.n_components, self.hidden, self.kind = n_components, hidden, kind
        self.epochs, self.batch_size, self.learning_rate = epochs, batch_size, learning_rate
        self.hide_fraction = hide_fraction
        self.random_state, self.workdir, self.keep_workdir, self.verbose = random_state, workdir, keep_workdir, verbose

    def _check_params(self) -> None:
        """ValueError naming the first parameter that cannot be trained with, before any data is read."""
        if self.kind not in KINDS:
            raise ValueError(f"kind={self.kind!r} is unknown; choose one of {list(KINDS)}")
        number_value("n_components", self.n_components, integer=True, low=1)
        widths_value("hidden", self.hidden, allow_empty=True)  # () is a linear autoencoder.
        number_value("epochs", self.epochs, integer=True, low=1)
        number_value("batch_size", self.batch_size, integer=True, low=1)
        number_value("learning_rate", self.learning_rate, low=0, low_open=True)
        number_value("hide_fraction", self.hide_fraction, low=0, high=1, high_open=True)
        number_value("random_state", self.random_state, integer=True, low=0, high=2**32 - 1)

    def _fit(self, X, rows=None) -> None:
        """Trains on X, or on the `rows` [m] of it when given (the rest held out); X fixes the inputs' scaling."""
        self._check_params()
        self._forget_fit()
        self.inputs_ = Inputs.fit(X)
        if rows is not None:
            X = X.iloc[rows] if hasattr(X, "iloc") else np.asarray(X)[rows]
        source = self.inputs_.source(X)
        config = config_for(self.inputs_, len(source), kind=self.kind, n_components=self.n_components,
                            hidden=self.hidden, epochs=self.epochs, batch_size=self.batch_size,
                            learning_rate=self.learning_rate, random_state=self.random_state)
        if self.inputs_.kind == "table":  # Missing cells: masked out of the loss (`TabularTrainer`).
            config.table.missing = "numeric_observed" in source.spec
            config.table.hide_fraction = float(self.hide_fraction)
        elif self.hide_fraction:
            raise ValueError(f"hide_fraction={self.hide_fraction} hides cells of tables; X holds images")
        self.n_features_in_ = self.inputs_.num_features
        if self.inputs_.kind == "table" and self.inputs_.table.frame:
            self.feature_names_in_ = np.asarray([column["name"] for column in self.inputs_.table.columns], object)
        self._train(config, source)

    def _apply(self, method: str, X, batch_size: int | None = None) -> np.ndarray:
        """The trained model's `method` ('encode', 'scores') of X's rows, whatever their order, in
        batches of `batch_size` rows (default: up to 512)."""
        check_is_fitted(self, "model_")
        arrays = self.inputs_.arrays(X, type(self).__name__)
        names = ("image",) if self.inputs_.kind == "images" else ("numeric", "categorical", "numeric_observed",
                                                                  "categorical_observed")
        method = functools.partial(getattr(self.model_, f"{method}_fields"), batch_size=batch_size)
        return in_canonical_order(method, *[arrays.get(name) for name in names])

    def impute(self, X, *, batch_size: int | None = None):
        """A table X with each missing cell (NaN, None) filled by the model's reconstruction of it
        from the row's observed cells (a category by its most probable value seen in fit), every
        observed cell kept: a DataFrame for a DataFrame, else an array of floats."""
        check_is_fitted(self, "model_")
        if self.inputs_.kind != "table":
            raise DataError("impute fills the missing cells of a table; this estimator was fitted on images")
        self.inputs_.arrays(X, type(self).__name__)  # X's checks, in scikit-learn's words.
        return self.model_.impute(X if is_frame(X) else checked_array(X, allow_nan=True), batch_size=batch_size)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # A table's missing cells (NaN in images is refused in one line).
        return tags

    def _state(self) -> dict:
        return {"inputs": self.inputs_.to_json()}

    def _set_state(self, state: dict) -> None:
        self.inputs_ = Inputs.from_json(state["inputs"])
        self.n_features_in_ = self.inputs_.num_features
        if self.inputs_.kind == "table" and self.inputs_.table.frame:
            self.feature_names_in_ = np.asarray([column["name"] for column in self.inputs_.table.columns], object)


class AutoencoderTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, AutoencoderEstimator):
    """X [n, features] (or images [n, H, W(, C)], or a DataFrame) -> codes [n, n_components].

    Attributes after `fit`: n_features_in_, workdir_ (the run folder), model_ (`jaxae.load`'s model).
    """

    def fit(self, X, y=None):
        """Trains the autoencoder on X; y is ignored."""
        del y
        self._fit(X)
        return self

    @property
    def _n_features_out(self) -> int:  # Names the codes 'autoencodertransformer0', ... in `get_feature_names_out`.
        return self.n_components

    def transform(self, X, *, batch_size: int | None = None) -> np.ndarray:
        """[n, n_components] float32: the encoder's codes of X (a VAE's posterior means), computed
        `batch_size` rows at a time (default up to 512: it bounds the device memory)."""
        return self._apply("encode", X, batch_size)

    def inverse_transform(self, X, *, batch_size: int | None = None):
        """codes [n, n_components] -> the decoder's reconstruction in X's space: images in the
        fitted range, or a table (a DataFrame if one was fitted) with categories by their most
        probable value."""
        check_is_fitted(self, "model_")
        codes = np.asarray(X, np.float32)
        if codes.ndim != 2 or codes.shape[1] != self.n_components:
            raise DataError(f"codes must be [n, {self.n_components}]; got shape {codes.shape}")
        if self.inputs_.kind == "table":
            return self.inputs_.table.inverse_transform(*self.model_.decode(codes, batch_size=batch_size))
        return self.inputs_.images_back(self.model_.decode(codes, batch_size=batch_size))
