"""`jaxae.AutoencoderTransformer` and `jaxae.AnomalyDetector`: scikit-learn's estimator checks,
pipelines, images and tables (mixed DataFrames too), planted anomalies ranked first, the two
thresholds against their closed forms, and save/load through Orbax and JSON (no pickle)."""

import os
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline

import jaxae
from jaxae.errors import DataError
from jaxae.estimators.anomaly import conformal_threshold, quantile_threshold, robust_threshold
from helpers import mixed_frame

SMALL = dict(n_components=4, hidden=(32,), epochs=30, batch_size=32)


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    return x[:600], y[:600]


@pytest.fixture(scope="module")
def planted():
    """Rows near a 3-dimensional subspace of 12 features, 10 rows far off it, and 400 new rows near it."""
    rng = np.random.default_rng(0)
    basis = rng.normal(size=(3, 12))
    inliers = rng.normal(size=(400, 3)) @ basis + 0.05 * rng.normal(size=(400, 12))
    outliers = rng.normal(size=(10, 12)) * inliers.std(0) * 2
    new = rng.normal(size=(400, 3)) @ basis + 0.05 * rng.normal(size=(400, 12))
    return inliers, outliers, new


@pytest.fixture(scope="module")
def detector(planted):
    inliers = planted[0]
    return jaxae.AnomalyDetector(contamination=None, random_state=1, **SMALL).fit(inliers)


def test_planted_anomalies_score_above_the_rows_the_detector_learnt(detector, planted):
    inliers, outliers, new = planted
    scores = detector.decision_function(np.concatenate([new, outliers]))
    truth = np.r_[np.zeros(len(new)), np.ones(len(outliers))]
    assert roc_auc_score(truth, scores) > 0.99
    # With no fraction given, the robust cut read off the held-out rows (median + 3.5 MADs of the log
    # scores) flags the farther half of the outliers and few new or training rows.
    assert detector.predict(outliers).mean() >= 0.5
    assert detector.predict(new).mean() < 0.02 and detector.labels_.mean() < 0.02
    np.testing.assert_array_equal(detector.labels_, detector.predict(inliers))
    proba = detector.predict_proba(outliers)
    assert proba.shape == (10, 2) and np.allclose(proba.sum(1), 1) and np.all(proba[:, 1] >= 0.5)
    unify = detector.predict_proba(outliers, method="unify")
    assert np.all((0 <= unify) & (unify <= 1))
    # In batches of 7 rows (bounding the device memory): the same scores, labels and codes.
    np.testing.assert_allclose(detector.decision_function(outliers, batch_size=7), detector.decision_function(outliers),
                               rtol=1e-5)
    np.testing.assert_array_equal(detector.predict(outliers, batch_size=7), detector.predict(outliers))
    np.testing.assert_allclose(detector.predict_proba(outliers, batch_size=7), proba, rtol=1e-5, atol=1e-7)
    with pytest.raises(DataError, match="batch_size=0 must be a positive integer"):
        detector.decision_function(outliers, batch_size=0)


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
    # Split-conformal: the ceil((m + 1)(1 - c))-th smallest of m held-out scores, or the largest.
    assert conformal_threshold(np.arange(50.0), 0.05) == 48.0  # k = ceil(51 * 0.95) = 49.
    assert conformal_threshold(np.arange(10.0), 0.05) == 9.0  # k = 11 > 10.


def test_contamination_flags_at_most_that_fraction_of_the_threshold_rows(detector, planted):
    inliers = planted[0]
    held = detector.holdout_rows_
    assert len(held) == round(0.2 * len(inliers)) and len(set(held)) == len(held)  # Drawn from random_state.
    scores = detector.decision_scores_
    conformal = clone(detector).set_params(contamination=0.05)
    conformal._set_threshold(scores, scores[held])  # The same scores: held-out rows, the conformal rule ...
    assert conformal.threshold_ == np.sort(scores[held])[int(np.ceil(81 * 0.95)) - 1]
    assert conformal.labels_[held].mean() == 3 / 80  # ... at most 5 % of them, and of rows like them.
    pyod = clone(detector).set_params(contamination=0.05, holdout=0.0)
    pyod._set_threshold(scores, scores)  # PyOD's rule on the training scores: 5 % of them.
    assert pyod.labels_.mean() == pytest.approx(0.05, abs=1 / len(inliers))
    with pytest.raises(ValueError, match=r"contamination=0.7 must be <= 0.5"):
        jaxae.AnomalyDetector(contamination=0.7).fit(inliers)


def test_new_normal_rows_of_a_small_table_are_flagged_at_the_contamination_rate():
    """Issue 27, finding 2: on breast-cancer benign rows split 70/30, a threshold read off the
    training scores flagged about half of the held-out benign rows; read off held-out rows, about
    the contamination rate (docs/estimators.md's table: 3 seeds, against IsolationForest and PyOD)."""
    from sklearn.datasets import load_breast_cancer

    table = load_breast_cancer()
    benign = table.data[table.target == 1]
    order = np.random.default_rng(0).permutation(len(benign))
    train, new = benign[order[:250]], benign[order[250:]]
    flagged = {holdout: jaxae.AnomalyDetector(contamination=0.05, holdout=holdout, random_state=0).fit(train)
               .predict(new).mean() for holdout in (0.0, 0.2)}
    assert flagged[0.2] <= 0.10 < 0.25 < flagged[0.0]


def test_refits_and_cross_validation_train_afresh_in_a_given_workdir(digits, tmp_path):
    """Issue 27, findings 6 and 7: a second fit in the same workdir raised (or returned the old
    model); temporary run folders stayed in the system's temp folder."""
    import gc
    from sklearn.model_selection import cross_val_score

    x, y = digits
    workdir = str(tmp_path / "run")
    tiny = dict(SMALL, epochs=3, random_state=0)
    pipeline = make_pipeline(jaxae.AutoencoderTransformer(workdir=workdir, **tiny), LogisticRegression(max_iter=300))
    scores = cross_val_score(pipeline, x[:300], y[:300], cv=2, error_score="raise")
    assert np.all(np.isfinite(scores))
    first = jaxae.AutoencoderTransformer(workdir=workdir, **tiny).fit(x[:200])
    codes = first.transform(x[:5])
    second = jaxae.AutoencoderTransformer(workdir=workdir, **tiny).fit(x[200:400])  # Other data: another model.
    assert not np.allclose(second.transform(x[:5]), codes)
    with pytest.raises(DataError, match="no longer holds this estimator's run"):
        first.save(str(tmp_path / "stale"))  # Its run was replaced: saving it would save the second one.
    with pytest.raises(ValueError, match="keep_workdir=True keeps it"):
        jaxae.AutoencoderTransformer(workdir=workdir, keep_workdir=True, **tiny).fit(x[:200])
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(ValueError, match="holds files that no estimator's fit wrote"):
        jaxae.AutoencoderTransformer(workdir=str(tmp_path / "mine"), **tiny).fit(x[:200])
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"
    temporary = jaxae.AutoencoderTransformer(**tiny).fit(x[:200])
    folder = temporary.workdir_
    assert os.path.isdir(folder)
    del temporary
    gc.collect()
    assert not os.path.exists(folder)


def test_scores_do_not_depend_on_where_a_row_stands(digits):
    """A VAE's score draws its noise by the row's place, and XLA may round a row differently at
    another place in a batch: results are computed in a canonical row order (issue 27, finding 10)."""
    x, _ = digits
    images = x[:120].reshape(-1, 8, 8)
    detector = jaxae.AnomalyDetector(kind="vae", random_state=0, **SMALL).fit(images)
    order = np.random.default_rng(1).permutation(len(images))
    np.testing.assert_array_equal(detector.decision_function(images[order]), detector.decision_function(images)[order])


def test_a_fitted_estimator_says_how_to_keep_it_instead_of_pickling(detector):
    import pickle

    with pytest.raises(TypeError, match=r"use .save\(path\) and AnomalyDetector.load\(path\)"):
        pickle.dumps(detector)
    assert pickle.loads(pickle.dumps(clone(detector))).get_params() == detector.get_params()  # Unfitted: as usual.


@pytest.mark.parametrize("params, message", [
    ({"n_components": 0}, "n_components=0 must be >= 1"), ({"epochs": 0}, "epochs=0 must be >= 1"),
    ({"hidden": (8, 0)}, "hidden=(8, 0) must hold positive integers"),
    ({"learning_rate": 0}, "learning_rate=0 must be > 0"), ({"holdout": 0.9}, "holdout=0.9 must be <= 0.5")])
def test_bad_parameters_are_named_as_the_estimator_names_them(planted, params, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        jaxae.AnomalyDetector(**params).fit(planted[0][:50])


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
    np.testing.assert_allclose(transformer.transform(x[:5], batch_size=2), codes, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(transformer.inverse_transform(codes, batch_size=2), back, rtol=1e-5, atol=1e-5)
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
    inliers, outliers, _ = planted
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
