"""jaxae: JAX-first autoencoders.

The public API, each name imported on first use so that ``import jaxae`` stays cheap:

* training: ``jaxae.run(config, workdir)`` on the tfds data set a config names, ``jaxae.train(config,
  workdir, train_source, eval_source)`` on opened sources such as ``jaxae.ArraySource`` (your own
  arrays); ``jaxae.get_config(name, variant)`` is a shipped experiment's config ('vae_mnist', 'tiny');
* a trained run: ``jaxae.load(workdir)`` returns its model (encode, decode, predict, scores, ... as the
  family offers, each in batches of ``batch_size``); ``jaxae.Embeddings`` holds named vectors (words, items, codes);
* scikit-learn / PyOD shapes: ``jaxae.AutoencoderTransformer`` (codes as features),
  ``jaxae.AnomalyDetector`` and ``jaxae.DeepClustering``;
* the command-line tools ``python -m jaxae.encode``, ``python -m jaxae.plot`` and ``python -m
  jaxae.export`` (a run's parts as ``jax.export`` artifacts that run without jaxae), and the
  installed ``jaxae`` command (``jaxae train --config vae_mnist --workdir runs/vae``, ``jaxae export``, ...).

Errors a user can cause are ``jaxae.errors.JaxaeError`` subclasses, each one line.
"""

import importlib

__version__ = "0.1.0"

_PUBLIC = {
    "run": "jaxae.engine.loop:run",
    "train": "jaxae.engine.loop:train",
    "RunResult": "jaxae.engine.loop:RunResult",
    "load": "jaxae.engine.load:load",
    "get_config": "jaxae.config.experiments:get_config",
    "ArraySource": "jaxae.data.sources:ArraySource",
    "Embeddings": "jaxae.embeddings:Embeddings",
    "AutoencoderTransformer": "jaxae.estimators.autoencoders:AutoencoderTransformer",
    "AnomalyDetector": "jaxae.estimators.anomaly:AnomalyDetector",
    "DeepClustering": "jaxae.estimators.clustering:DeepClustering",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name):
    if name in _PUBLIC:  # Imported on first use: most bring in JAX, Flax and Orbax.
        module, _, attribute = _PUBLIC[name].partition(":")
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'jaxae' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC))
