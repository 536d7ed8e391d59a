"""jaxae: JAX-first autoencoders.

Submodules are imported on use (``from jaxae import models, losses, trainers``) so that
``import jaxae`` stays cheap; ``jaxae.load(workdir)`` returns a trained run's model and
``jaxae.DeepClustering`` is the scikit-learn-shaped clusterer.
"""

__version__ = "0.1.0"


def __getattr__(name):
    if name == "load":  # Imported on first use: it brings in JAX, Flax and Orbax.
        from jaxae.inference import load

        return load
    if name == "DeepClustering":
        from jaxae.estimators.clustering import DeepClustering

        return DeepClustering
    raise AttributeError(f"module 'jaxae' has no attribute {name!r}")
