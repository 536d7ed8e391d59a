"""`jaxae.DeepClustering` in scikit-learn's shapes: fit/predict/transform in a Pipeline, params,
input validation with clear errors, and save/load through Orbax and JSON (no pickle)."""

import os

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

import jaxae
from jaxae.errors import DataError

SMALL = dict(n_clusters=10, latent_dim=4, hidden=(32,), pretrain_epochs=2, epochs=2, batch_size=64)


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    return x[:640], y[:640]


@pytest.fixture(scope="module")
def fitted(digits, tmp_path_factory):
    x, _ = digits
    pipeline = make_pipeline(MinMaxScaler(), jaxae.DeepClustering(method="dec", random_state=3, **SMALL,
                                                                  workdir=str(tmp_path_factory.mktemp("run"))))
    return pipeline.fit(x)


def test_fit_predict_transform_in_a_pipeline(digits, fitted):
    x, _ = digits
    model = fitted[-1]
    assert model.labels_.shape == (640,) and model.labels_.dtype == np.int32
    assert 0 <= model.labels_.min() and model.labels_.max() < 10
    np.testing.assert_array_equal(fitted.predict(x), model.labels_)  # Deterministic prediction of the training rows.
    codes = fitted.transform(x[:5])
    assert codes.shape == (5, 4) and np.all(np.isfinite(codes))
    scaled = fitted[0].transform(x)
    np.testing.assert_allclose(model.transform(scaled[:5], batch_size=2), codes, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(model.predict(scaled, batch_size=50), model.labels_)
    # A row's cluster is that of the nearest centre of its code.
    nearest = np.argmin(((codes[:, None] - model.cluster_centers_[None]) ** 2).sum(-1), -1)
    np.testing.assert_array_equal(nearest, model.labels_[:5])


def test_encode_score_and_convergence_of_a_fitted_run(digits, fitted, tmp_path):
    """Issue 27: `jaxae.encode` writes a clustering run's clusters; `score` is minus the codes'
    K-means objective (as KMeans.score); DEC trains every epoch it is given (its stopping test
    stopped short runs at their first refresh, on K-means's clusters)."""
    from jaxae.tools import encode
    from jaxae.runs.metric_writers import read_metrics

    x, _ = digits
    model, scaled = fitted[-1], fitted[0].transform(x[:50])
    np.save(tmp_path / "x.npy", model.inputs_.arrays(scaled)["image"])
    assert encode.main(["--workdir", model.workdir_, "--images", str(tmp_path / "x.npy"), "--out",
                        str(tmp_path / "c.npz")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "c.npz")["clusters"], model.predict(scaled))
    codes = model.transform(scaled)
    expected = -np.sum(np.min(((codes[:, None] - model.cluster_centers_[None]) ** 2).sum(-1), axis=1))
    assert model.score(scaled) == pytest.approx(expected, rel=1e-5)
    records = read_metrics(model.workdir_)
    refreshes = [r for r in records if "cluster/converged" in r]
    assert len(refreshes) >= 3 and all(r["cluster/converged"] == 0.0 for r in refreshes)
    trained = [r for r in records if "train/kl" in r]
    assert trained[-1]["step"] == 40 and all(r["train/skipped"] == 0.0 for r in trained)  # 2 + 2 epochs of 10 steps.


def test_params_follow_scikit_learn(fitted):
    model = fitted[-1]
    params = model.get_params()
    assert params["method"] == "dec" and params["random_state"] == 3 and params["hidden"] == (32,)
    copy = clone(model).set_params(method="idec", n_clusters=4)
    assert copy.get_params()["method"] == "idec" and copy.n_clusters == 4 and not hasattr(copy, "labels_")


def test_save_and_load_without_pickle(digits, fitted, tmp_path):
    x, _ = digits
    model = fitted[-1]
    path = model.save(str(tmp_path / "saved"))
    files = [name for _, _, names in os.walk(path) for name in names]
    assert not any(name.endswith((".pkl", ".pickle", ".joblib")) for name in files)
    again = jaxae.DeepClustering.load(path)
    scaled = fitted[0].transform(x)
    np.testing.assert_array_equal(again.predict(scaled), model.predict(scaled))
    assert again.get_params()["method"] == "dec" and again.labels_.tolist() == model.labels_.tolist()
    with pytest.raises(FileExistsError, match="exists"):
        model.save(path)
    with pytest.raises(FileNotFoundError, match="holds no saved DeepClustering"):
        jaxae.DeepClustering.load(str(tmp_path / "nothing"))


def test_bad_inputs_are_refused_with_clear_errors(digits, fitted):
    x, _ = digits
    bad = x[:20].copy()
    bad[3, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        jaxae.DeepClustering(**SMALL).fit(bad)
    with pytest.raises(ValueError, match="method='kmeans' is unknown"):
        jaxae.DeepClustering(method="kmeans", **SMALL).fit(x[:20])
    with pytest.raises(ValueError, match="minimum of 10 is required"):
        jaxae.DeepClustering(**SMALL).fit(x[:5])
    with pytest.raises(ValueError, match="augment_shift=2 shifts images"):
        jaxae.DeepClustering(augment_shift=2, **SMALL).fit(x[:20])
    for bad_params, message in (({"n_clusters": 1}, "n_clusters=1 must be >= 2"),  # In the estimator's words.
                                ({"latent_dim": 0}, "latent_dim=0 must be >= 1"),
                                ({"epochs": 2.5}, "epochs=2.5 must be an integer")):
        with pytest.raises(ValueError, match=message):
            jaxae.DeepClustering(**(SMALL | bad_params)).fit(x[:20])
    with pytest.raises(DataError, match="features per example"):
        fitted[-1].predict(x[:3, :10])
    with pytest.raises(Exception, match="not fitted"):
        jaxae.DeepClustering().predict(x[:3])


@pytest.mark.parametrize("method", ["jule", "n2d"])
def test_jule_and_n2d_fit_through_the_estimator(digits, method):
    """JULE's merge schedule is fitted into the phase the estimator's epochs give (here 20 steps);
    N2D clusters the pretrained codes once."""
    from sklearn.metrics import normalized_mutual_info_score

    x, y = digits
    model = jaxae.DeepClustering(method=method, random_state=0, **SMALL).fit(x)
    assert sorted(np.unique(model.labels_)) == list(range(10))
    assert normalized_mutual_info_score(y, model.labels_) > 0.15  # Chance: about 0.03.
    assert model.cluster_centers_.shape == (10, 4)
