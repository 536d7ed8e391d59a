"""Front doors in the scikit-learn shapes, on top of `loop.train` and `jaxae.load`."""
