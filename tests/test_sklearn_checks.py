"""scikit-learn's own estimator checks of the two estimators (a module of its own: the longest
tests of the estimators, which xdist may then run beside the others)."""

import pytest
from sklearn.utils.estimator_checks import check_estimator

import jaxae

# Checks that do not apply, and why (scikit-learn runs every other one).
NOT_APPLICABLE = {
    "check_estimators_pickle": "the estimators save and load as Orbax checkpoints and JSON, never pickle",
    "check_transformer_preserve_dtypes": "codes are float32, JAX's default, whatever the input's float type",
}


@pytest.mark.parametrize("estimator", [jaxae.AutoencoderTransformer, jaxae.AnomalyDetector])
def test_scikit_learns_estimator_checks_pass(estimator):
    check_estimator(estimator(n_components=2, hidden=(8,), epochs=2, batch_size=16),
                    expected_failed_checks=NOT_APPLICABLE)
