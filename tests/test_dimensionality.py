"""An autoencoder without hidden layers or non-linearities finds PCA's subspace (Baldi and Hornik,
1989): its decoder's rows span the top principal directions, up to a small principal angle."""

import numpy as np
from scipy.linalg import subspace_angles
from sklearn.decomposition import PCA

import jaxae


def test_a_linear_autoencoder_recovers_pcas_subspace():
    rng = np.random.default_rng(0)
    rotation, _ = np.linalg.qr(rng.normal(size=(10, 10)))
    scales = np.array([5, 4, 3, 1, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2])  # A clear gap after the third direction.
    X = (rng.normal(size=(2000, 10)) * scales) @ rotation.T + 3
    model = jaxae.AutoencoderTransformer(n_components=3, hidden=(), epochs=100, learning_rate=1e-2,
                                         random_state=0).fit(X)
    decoder = np.asarray(model.model_.params["numeric"]["kernel"])  # [3, 10]: codes -> standardised columns.
    pca = PCA(3).fit((X - X.mean(0)) / X.std(0))  # The table is standardised column by column first.
    angles = np.degrees(subspace_angles(decoder.T, pca.components_.T))
    assert angles.max() < 3, angles
    # A random 3-dimensional subspace is far from it: the comparison can fail.
    assert np.degrees(subspace_angles(rng.normal(size=(10, 3)), pca.components_.T)).max() > 30
