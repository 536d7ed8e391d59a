"""jaxae: JAX-first autoencoders.

Submodules are imported on use (``from jaxae import models, losses, trainers``) so that
``import jaxae`` stays cheap; ``jaxae.load(workdir)`` returns a trained run's model, and the
scikit-learn-shaped estimators are ``jaxae.AutoencoderTransformer`` (codes as features),
``jaxae.AnomalyDetector`` (PyOD's detector shape) and ``jaxae.DeepClustering``.
"""

import importlib

__version__ = "0.1.0"

_ESTIMATORS = {"AutoencoderTransformer": "jaxae.estimators.autoencoders",
               "AnomalyDetector": "jaxae.estimators.anomaly",
               "DeepClustering": "jaxae.estimators.clustering"}


def __getattr__(name):
    if name == "load":  # Imported on first use: it brings in JAX, Flax and Orbax.
        from jaxae.inference import load

        return load
    if name in _ESTIMATORS:
        module = importlib.import_module(_ESTIMATORS[name])
        return getattr(module, name)
    raise AttributeError(f"module 'jaxae' has no attribute {name!r}")
