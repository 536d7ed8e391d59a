"""`AnomalyDetector`: anomalies by reconstruction error, in PyOD's detector shape.

    import jaxae

    detector = jaxae.AnomalyDetector(contamination=None, random_state=0).fit(X_train)  # mostly normal rows
    scores = detector.decision_function(X_new)     # [n], higher = worse explained by the model
    flags = detector.predict(X_new)                # [n] 1 anomaly, 0 normal (scores above threshold_)
    proba = detector.predict_proba(X_new)          # [n, 2] (normal, anomaly)

Conventions are PyOD's (not scikit-learn's +1/-1 outlier convention): higher scores are more
anomalous, `predict` gives 1 for anomalies, and `decision_scores_`, `threshold_` and `labels_`
describe the training rows. A score is the row's reconstruction loss under the trained model:
the Bernoulli negative log-likelihood of an image's grey levels (nats) for `kind='ae'`, the
negative ELBO for `kind='vae'`, and for tables the squared error over numeric columns plus the
cross-entropy over categorical ones.

The threshold: with `contamination=c` it is the (1 - c) quantile of the training scores, as in
PyOD, so a fraction c of the training rows is flagged. With `contamination=None` no fraction is
assumed: a training score is an outlier when its robust z-score (Iglewicz and Hoaglin's modified
z-score, 0.6745 (s - median) / MAD, on the logarithm of the scores, since reconstruction errors are
right-skewed) exceeds `z_threshold` (3.5, their recommendation), and `threshold_` is the score at
that cut. The training rows are assumed mostly normal either way: the model learns what they share.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf
from sklearn.utils.validation import check_is_fitted

from jaxae.estimators.autoencoders import AutoencoderEstimator

PROBA_METHODS = ("linear", "unify")
MAD_TO_Z = 0.6745  # The MAD of a standard normal: modified z-scores are on the scale of z-scores.


def quantile_threshold(scores: np.ndarray, contamination: float) -> float:
    """The score above which a fraction `contamination` of `scores` lies (PyOD's rule)."""
    return float(np.percentile(scores, 100.0 * (1.0 - contamination)))


def robust_threshold(scores: np.ndarray, z_threshold: float = 3.5) -> float:
    """The score whose modified z-score (on log scores when all are positive) is `z_threshold`.

    When more than half the scores are equal (MAD 0), the mean absolute deviation times 1.2533
    (its ratio to the standard deviation under normality) takes the MAD's place; when every score
    is equal the threshold is that score, and nothing in training is flagged.
    """
    scores = np.asarray(scores, np.float64)
    logs = bool(np.all(scores > 0))
    values = np.log(scores) if logs else scores
    median = np.median(values)
    spread = np.median(np.abs(values - median)) / MAD_TO_Z
    if spread == 0:
        spread = 1.2533 * np.mean(np.abs(values - median))
    cut = median + z_threshold * spread
    return float(np.exp(cut) if logs else cut)


class AnomalyDetector(AutoencoderEstimator):
    """Trains an autoencoder on (mostly normal) rows and scores rows by their reconstruction loss.

    Args:
      contamination: the expected fraction of anomalies in the training rows, in (0, 0.5], which
        sets `threshold_` as their (1 - contamination) quantile; None for the robust threshold
        that needs no such fraction (see the module's docstring).
      z_threshold: the modified z-score above which `contamination=None` flags a row.
      n_components, hidden, kind, epochs, batch_size, learning_rate, random_state, workdir,
        verbose: the autoencoder and its training (`AutoencoderEstimator`).

    Attributes after `fit`:
      decision_scores_ [n]: the training rows' scores; threshold_; labels_ [n] int: 1 where a
      training row's score is above `threshold_`; n_features_in_; workdir_; model_.
    """

    def __init__(self, contamination: float | None = 0.1, *, z_threshold: float = 3.5, n_components: int = 8,
                 hidden: tuple = (128, 64), kind: str = "ae", epochs: int = 100, batch_size: int = 64,
                 learning_rate: float = 1e-3, random_state: int = 0, workdir: str = "", verbose: int = 0):
        super().__init__(n_components, hidden=hidden, kind=kind, epochs=epochs, batch_size=batch_size,
                         learning_rate=learning_rate, random_state=random_state, workdir=workdir, verbose=verbose)
        self.contamination, self.z_threshold = contamination, z_threshold

    def _check_threshold_params(self) -> None:
        contamination = self.contamination
        if contamination is not None and not (isinstance(contamination, (int, float)) and 0 < contamination <= 0.5):
            raise ValueError(f"contamination={contamination!r} must be a fraction in (0, 0.5], or None")
        if not (isinstance(self.z_threshold, (int, float)) and self.z_threshold > 0):
            raise ValueError(f"z_threshold={self.z_threshold!r} must be a positive number")

    def fit(self, X, y=None):
        """Trains on X (y is ignored: the rows are taken as mostly normal) and sets the threshold."""
        del y
        self._check_threshold_params()  # Before training: a bad value costs nothing.
        self._fit(X)
        self._set_threshold(self.decision_function(X))
        return self

    def _set_threshold(self, scores: np.ndarray) -> None:
        self.decision_scores_ = np.asarray(scores, np.float64)
        self.threshold_ = (robust_threshold(self.decision_scores_, self.z_threshold) if self.contamination is None
                           else quantile_threshold(self.decision_scores_, self.contamination))
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(np.int64)

    def decision_function(self, X) -> np.ndarray:
        """[n] float64 anomaly scores of X: higher is more anomalous."""
        columns = self._columns(X)
        return np.asarray(self.model_.scores(*columns), np.float64)

    def predict(self, X) -> np.ndarray:
        """[n] int: 1 where X's score is above `threshold_`, else 0."""
        check_is_fitted(self, "threshold_")
        return (self.decision_function(X) > self.threshold_).astype(np.int64)

    def predict_proba(self, X, method: str = "linear") -> np.ndarray:
        """[n, 2] (normal, anomaly) probabilities from the scores, as PyOD makes them.

        method: 'linear' scales the scores by the training scores' range, clipped to [0, 1];
          'unify' is max(0, erf((s - mean) / (std sqrt 2))) of the training scores' mean and std
          (Kriegel et al., 2011).
        """
        check_is_fitted(self, "decision_scores_")
        if method not in PROBA_METHODS:
            raise ValueError(f"method={method!r} is unknown; choose one of {list(PROBA_METHODS)}")
        scores, train = self.decision_function(X), self.decision_scores_
        if method == "linear":
            span = train.max() - train.min() or 1.0
            anomaly = np.clip((scores - train.min()) / span, 0.0, 1.0)
        else:
            anomaly = np.clip(erf((scores - train.mean()) / ((train.std() or 1.0) * np.sqrt(2))), 0.0, 1.0)
        return np.stack([1.0 - anomaly, anomaly], axis=1)

    def _state(self) -> dict:
        return super()._state() | {"decision_scores": self.decision_scores_.tolist()}

    def _set_state(self, state: dict) -> None:
        super()._set_state(state)
        self._set_threshold(np.asarray(state["decision_scores"], np.float64))
