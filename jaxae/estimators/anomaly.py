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

The threshold is set on rows the model did not train on, so that `predict` flags new rows of the
training data's kind at the rate asked: a network memorises a few hundred rows, and the quantile of
its own training scores flagged about half of new normal rows of a small table. `fit` holds out a
seeded fraction `holdout` (0.2) of X's rows, trains on the rest, and scores the held-out rows. With
`contamination=c`, `threshold_` is their split-conformal (1 - c) quantile, the k-th smallest of the
m held-out scores with k = ceil((m + 1)(1 - c)): a new row like them scores above it with
probability at most c (PyOD's interpolated quantile of a few dozen rows flags more). With
`contamination=None` no fraction is assumed: a held-out score is an outlier when its robust z-score
(Iglewicz and Hoaglin's modified z-score, 0.6745 (s - median) / MAD, on the logarithm of the scores,
since reconstruction errors are right-skewed) exceeds `z_threshold` (3.5, their recommendation), and
`threshold_` is the score at that cut. `holdout=0` trains on every row and takes PyOD's rule: the
interpolated (1 - c) quantile of the training scores. The training rows are assumed mostly normal
either way: the model learns what they share.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf
from sklearn.utils.validation import check_is_fitted

from jaxae.config.checks import number_value
from jaxae.estimators.autoencoders import AutoencoderEstimator

PROBA_METHODS = ("linear", "unify")
HOLDOUT_STREAM = 1  # With random_state, the seed of the held-out rows' draw.
MAD_TO_Z = 0.6745  # The MAD of a standard normal: modified z-scores are on the scale of z-scores.


def quantile_threshold(scores: np.ndarray, contamination: float) -> float:
    """The score above which a fraction `contamination` of `scores` lies (PyOD's rule)."""
    return float(np.percentile(scores, 100.0 * (1.0 - contamination)))


def conformal_threshold(scores: np.ndarray, contamination: float) -> float:
    """The k-th smallest of m held-out scores, k = ceil((m + 1)(1 - contamination)) (split-conformal
    prediction): a new row exchangeable with the held-out ones scores above it with probability at
    most `contamination`, where the interpolated quantile of a few dozen rows flags more. When k > m
    (fewer than 1 / contamination - 1 scores) it is the largest score."""
    ordered = np.sort(np.asarray(scores, np.float64))
    rank = int(np.ceil((len(ordered) + 1) * (1.0 - contamination)))
    return float(ordered[min(rank, len(ordered)) - 1])


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
      contamination: the expected fraction of anomalies in the rows, in (0, 0.5], which sets
        `threshold_` as the (1 - contamination) quantile of the held-out rows' scores; None for the
        robust threshold that needs no such fraction (see the module's docstring).
      z_threshold: the modified z-score above which `contamination=None` flags a row.
      holdout: the fraction of X's rows, in [0, 0.5], held out of training to set the threshold
        (at least one row; drawn by `random_state`); 0 trains on every row and sets it on the
        training scores, as PyOD does (which flags more new rows than `contamination` says). The
        bound "at most `contamination`" needs at least 1 / contamination - 1 held-out rows (19 for
        0.05, so about 100 rows of X); with fewer the threshold is the largest held-out score.
      n_components, hidden, kind, epochs, batch_size, learning_rate, random_state, workdir,
        keep_workdir, verbose: the autoencoder and its training (`AutoencoderEstimator`).

    Attributes after `fit`:
      decision_scores_ [n]: the scores of X's rows (held-out ones included), in X's order;
      threshold_; labels_ [n] int: 1 where a row's score is above `threshold_`; holdout_rows_ [m]:
      the indices of the held-out rows; n_features_in_; workdir_; model_.
    """

    def __init__(self, contamination: float | None = 0.1, *, z_threshold: float = 3.5, holdout: float = 0.2,
                 n_components: int = 8, hidden: tuple = (128, 64), kind: str = "ae", epochs: int = 100,
                 batch_size: int = 64, learning_rate: float = 1e-3, hide_fraction: float = 0.0, random_state: int = 0,
                 workdir: str = "", keep_workdir: bool = False, verbose: int = 0):
        super().__init__(n_components, hidden=hidden, kind=kind, epochs=epochs, batch_size=batch_size,
                         learning_rate=learning_rate, hide_fraction=hide_fraction, random_state=random_state,
                         workdir=workdir, keep_workdir=keep_workdir, verbose=verbose)
        self.contamination, self.z_threshold, self.holdout = contamination, z_threshold, holdout

    def _check_threshold_params(self) -> None:
        if self.contamination is not None:
            number_value("contamination", self.contamination, low=0, low_open=True, high=0.5)
        number_value("z_threshold", self.z_threshold, low=0, low_open=True)
        number_value("holdout", self.holdout, low=0, high=0.5)

    def fit(self, X, y=None):
        """Trains on X less its held-out rows (y is ignored: the rows are taken as mostly normal), then
        sets the threshold on the held-out rows' scores."""
        del y
        self._check_params()  # Before training: a bad value costs nothing.
        self._check_threshold_params()
        num_rows = len(X)
        held = self._holdout_rows(num_rows) if num_rows > 1 else np.zeros(0, np.int64)  # One row: X's own error.
        self._fit(X, rows=np.setdiff1d(np.arange(num_rows), held) if held.size else None)
        scores = self.decision_function(X)
        self._set_threshold(scores, scores[held] if held.size else scores)
        self.holdout_rows_ = held
        return self

    def _holdout_rows(self, num_rows: int) -> np.ndarray:
        """[m] sorted indices of the rows held out of training (m = holdout * rows, at least 1 when
        holdout > 0), drawn from `random_state`."""
        if not self.holdout:
            return np.zeros(0, np.int64)
        count = max(1, int(round(self.holdout * num_rows)))
        if count >= num_rows:
            raise ValueError(f"X has {num_rows} rows: too few to hold out holdout={self.holdout} of them and train "
                             "on the rest; give more rows, or holdout=0")
        # A stream of its own: not the permutation a caller's default_rng(random_state) would draw (a split of
        # X by the same seed), which the held-out rows would otherwise follow.
        return np.sort(np.random.default_rng([self.random_state, HOLDOUT_STREAM]).permutation(num_rows)[:count])

    def _set_threshold(self, scores: np.ndarray, threshold_scores: np.ndarray) -> None:
        """scores [n] of X's rows; threshold_scores [m] of the rows the threshold is read from (the
        held-out rows', or with holdout=0 the training rows')."""
        self.decision_scores_ = np.asarray(scores, np.float64)
        threshold_scores = np.asarray(threshold_scores, np.float64)
        if self.contamination is None:
            self.threshold_ = robust_threshold(threshold_scores, self.z_threshold)
        elif self.holdout:
            self.threshold_ = conformal_threshold(threshold_scores, self.contamination)
        else:
            self.threshold_ = quantile_threshold(threshold_scores, self.contamination)
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(np.int64)

    def decision_function(self, X, *, batch_size: int | None = None) -> np.ndarray:
        """[n] float64 anomaly scores of X: higher is more anomalous; `batch_size` rows at a time
        (default up to 512: it bounds the device memory)."""
        return np.asarray(self._apply("scores", X, batch_size), np.float64)

    def predict(self, X, *, batch_size: int | None = None) -> np.ndarray:
        """[n] int: 1 where X's score is above `threshold_`, else 0."""
        check_is_fitted(self, "threshold_")
        return (self.decision_function(X, batch_size=batch_size) > self.threshold_).astype(np.int64)

    def predict_proba(self, X, method: str = "linear", *, batch_size: int | None = None) -> np.ndarray:
        """[n, 2] (normal, anomaly) probabilities from the scores, as PyOD makes them.

        method: 'linear' scales the scores by the range of the fitted rows' scores
          (`decision_scores_`, held-out rows included), clipped to [0, 1]; 'unify' is
          max(0, erf((s - mean) / (std sqrt 2))) of their mean and std
          (Kriegel et al., 2011).
        """
        check_is_fitted(self, "decision_scores_")
        if method not in PROBA_METHODS:
            raise ValueError(f"method={method!r} is unknown; choose one of {list(PROBA_METHODS)}")
        scores, train = self.decision_function(X, batch_size=batch_size), self.decision_scores_
        if method == "linear":
            span = train.max() - train.min() or 1.0
            anomaly = np.clip((scores - train.min()) / span, 0.0, 1.0)
        else:
            anomaly = np.clip(erf((scores - train.mean()) / ((train.std() or 1.0) * np.sqrt(2))), 0.0, 1.0)
        return np.stack([1.0 - anomaly, anomaly], axis=1)

    def _state(self) -> dict:
        return super()._state() | {"decision_scores": self.decision_scores_.tolist(),
                                   "holdout_rows": self.holdout_rows_.tolist()}

    def _set_state(self, state: dict) -> None:
        super()._set_state(state)
        scores = np.asarray(state["decision_scores"], np.float64)
        if "holdout_rows" not in state:  # Saved before holdouts: fitted on every row, PyOD's rule.
            self.holdout = 0.0
        self.holdout_rows_ = np.asarray(state.get("holdout_rows", []), np.int64)
        self._set_threshold(scores, scores[self.holdout_rows_] if self.holdout_rows_.size else scores)
