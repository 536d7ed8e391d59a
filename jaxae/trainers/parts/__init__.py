"""Parts that several families hold (composition, not inheritance): the autoencoder core
(`autoencoder`) and what `jaxae.load` returns for a model built on it (`trained_autoencoder`)."""
