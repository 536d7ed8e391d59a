"""`jaxae.AutoencoderTransformer` and `jaxae.AnomalyDetector`: scikit-learn's estimator checks,
pipelines, images and tables (mixed DataFrames too), planted anomalies ranked first, the two
thresholds against their closed forms, and save/load through Orbax and JSON (no pickle)."""

import os

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import check_estimator

import jaxae
from jaxae.errors import DataError
from jaxae.estimators.anomaly import quantile_threshold, robust_threshold
from test_tabular import mixed_frame

SMALL = dict(n_components=4, hidden=(32,), epochs=30, batch_size=32)


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    return x[:600], y[:600]


@pytest.fixture(scope="module")
def planted():
    """Rows near a 3-dimensional subspace of 12 features, and 10 rows far off it."""
    rng = np.random.default_rng(0)
    basis = rng.normal(size=(3, 12))
    inliers = rng.normal(size=(400, 3)) @ basis + 0.05 * rng.normal(size=(400, 12))
    outliers = rng.normal(size=(10, 12)) * inliers.std(0) * 2
    return inliers, outliers


@pytest.fixture(scope="module")
def detector(planted):
    inliers, _ = planted
    return jaxae.AnomalyDetector(contamination=None, random_state=1, **SMALL).fit(inliers)


def test_planted_anomalies_score_above_the_rows_the_detector_learnt(detector, planted):
    inliers, outliers = planted
    scores = detector.decision_function(np.concatenate([inliers, outliers]))
    truth = np.r_[np.zeros(len(inliers)), np.ones(len(outliers))]
    assert roc_auc_score(truth, scores) > 0.99
    assert detector.predict(outliers).mean() >= 0.9  # The robust threshold flags them with no fraction given ...
    assert detector.labels_.mean() < 0.05  # ... and few of the training rows.
    np.testing.assert_array_equal(detector.labels_, detector.predict(inliers))
    proba = detector.predict_proba(outliers)
    assert proba.shape == (10, 2) and np.allclose(proba.sum(1), 1) and np.all(proba[:, 1] >= 0.5)
    unify = detector.predict_proba(outliers, method="unify")
    assert np.all((0 <= unify) & (unify <= 1))


def test_thresholds_equal_their_closed_forms():
    scores = np.random.default_rng(0).lognormal(size=1001)
    assert quantile_threshold(scores, 0.1) == pytest.approx(np.sort(scores)[900])  # 90th percentile of 1001.
    logs = np.log(scores)
    mad = np.median(np.abs(logs - np.median(logs)))
    assert robust_threshold(scores, 3.5) == pytest.approx(np.exp(np.median(logs) + 3.5 * mad / 0.6745))
    # Half or more of the scores equal: the mean absolute deviation stands in for the MAD.
    tied = np.r_[np.zeros(6), [1.0, 2.0, 3.0]]
    assert robust_threshold(tied, 2.0) == pytest.approx(2.0 * 1.2533 * np.mean(np.abs(tied)))
    assert robust_threshold(np.full(5, 2.0)) == 2.0


def test_contamination_flags_that_fraction_of_the_training_rows(detector, planted):
    inliers, _ = planted
    quantile = clone(detector).set_params(contamination=0.05)
    quantile._set_threshold(detector.decision_scores_)  # The same scores, PyOD's rule.
    assert quantile.labels_.mean() == pytest.approx(0.05, abs=1 / len(inliers))
    with pytest.raises(ValueError, match=r"contamination=0.7 must be a fraction in \(0, 0.5\]"):
        jaxae.AnomalyDetector(contamination=0.7).fit(inliers)


def test_the_transformer_is_a_pipeline_step_on_images_and_tables(digits):
    x, y = digits
    codes_of = jaxae.AutoencoderTransformer(random_state=0, **(SMALL | {"n_components": 8, "hidden": (64,)}))
    pipeline = make_pipeline(codes_of, LogisticRegression(max_iter=1000))
    assert pipeline.fit(x[:500], y[:500]).score(x[500:], y[500:]) > 0.5  # Chance is 0.1; PCA at 8, 0.68 standardised.
    transformer = pipeline[0]
    codes = transformer.transform(x[:5])
    assert codes.shape == (5, 8) and transformer.get_feature_names_out()[0] == "autoencodertransformer0"
    back = transformer.inverse_transform(codes)
    assert back.shape == (5, 64)
    assert np.mean((back - x[:5]) ** 2) < np.var(x, axis=0).mean()  # Better than the mean image.
    images = jaxae.AutoencoderTransformer(kind="vae", random_state=0, **SMALL).fit(x.reshape(-1, 8, 8))
    assert images.transform(x[:3].reshape(-1, 8, 8)).shape == (3, 4)
    decoded = images.inverse_transform(images.transform(x[:3].reshape(-1, 8, 8)))
    assert decoded.shape == (3, 8, 8) and decoded.min() >= 0 and decoded.max() <= 16  # X's shape and range.
    with pytest.raises(DataError, match=r"X has \(64,\) features per example; AutoencoderTransformer was fitted on \(8, 8\)"):
        images.transform(x[:3])
    with pytest.raises(ValueError, match="kind='vae' is for images"):
        jaxae.AutoencoderTransformer(kind="vae", **SMALL).fit(x)


def test_a_mixed_dataframe_is_embedded_and_reconstructed_column_by_column():
    frame = mixed_frame(400)
    model = jaxae.AutoencoderTransformer(n_components=2, hidden=(32,), epochs=40, random_state=0).fit(frame)
    back = model.inverse_transform(model.transform(frame))
    assert list(back.columns) == list(frame.columns)
    assert np.mean(back["colour"] == frame["colour"]) > 0.95  # The hidden factor is in the code ...
    assert np.mean(back["size"].astype(str) == frame["size"].astype(str)) > 0.95
    assert np.corrcoef(back["weight"], frame["weight"])[0, 1] > 0.9
    # ... and an impossible row (a large size with a small weight and an unseen colour) stands out.
    detector = jaxae.AnomalyDetector(contamination=None, n_components=2, hidden=(32,), epochs=40).fit(frame)
    odd = frame.iloc[:3].copy()
    odd["weight"], odd["size"], odd["colour"] = 0.0, pd.Categorical(["L"] * 3, categories=["S", "M", "L"],
                                                                    ordered=True), "purple"
    assert detector.decision_function(odd).min() > np.percentile(detector.decision_scores_, 99)


def test_save_and_load_give_the_same_scores_without_pickle(detector, planted, tmp_path):
    inliers, outliers = planted
    path = detector.save(str(tmp_path / "saved"))
    files = [name for _, _, names in os.walk(path) for name in names]
    assert "estimator.json" in files and not any(name.endswith((".pkl", ".pickle", ".joblib")) for name in files)
    again = jaxae.AnomalyDetector.load(path)
    assert again.get_params() == detector.get_params() and again.workdir_ == path
    np.testing.assert_array_equal(again.decision_function(outliers), detector.decision_function(outliers))
    assert again.threshold_ == detector.threshold_
    with pytest.raises(FileExistsError, match="exists; choose a new folder"):
        detector.save(path)
    with pytest.raises(DataError, match="holds a saved 'AnomalyDetector', not a AutoencoderTransformer"):
        jaxae.AutoencoderTransformer.load(path)
    with pytest.raises(DataError, match="X has 11 features, but AnomalyDetector is expecting 12 features as input"):
        again.predict(inliers[:, :11])


# Checks that do not apply, and why (scikit-learn runs every other one).
NOT_APPLICABLE = {
    "check_estimators_pickle": "the estimators save and load as Orbax checkpoints and JSON, never pickle",
    "check_transformer_preserve_dtypes": "codes are float32, JAX's default, whatever the input's float type",
}


@pytest.mark.parametrize("estimator", [jaxae.AutoencoderTransformer, jaxae.AnomalyDetector])
def test_scikit_learns_estimator_checks_pass(estimator):
    check_estimator(estimator(n_components=2, hidden=(8,), epochs=2, batch_size=16),
                    expected_failed_checks=NOT_APPLICABLE)
