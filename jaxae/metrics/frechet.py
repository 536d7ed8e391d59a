"""The Frechet distance between real and generated digits in the feature space of our own classifier.

No Inception weights can be downloaded here, so jaxae ships a small convolutional digit
classifier (`DigitClassifier`), trained once with a fixed seed on the embedded MNIST subset's
training digits (``python -m jaxae.metrics.frechet --out PATH`` retrains it; the shipped weights and
their test accuracy are in ``jaxae/data/resources/digit_classifier.npz``). Its 64 penultimate
ReLU features are the space; the distance between two Gaussians fitted there is

    FD = |mu_r - mu_g|^2 + tr(S_r) + tr(S_g) - 2 tr((S_r^1/2 S_g S_r^1/2)^1/2),

with the square roots by symmetric eigendecomposition (`numpy.linalg.eigh`; SciPy's `sqrtm` is
the test's reference). The numbers are NOT comparable with Inception FIDs, and, being biased by
the sample count, only with each other at the same count: the evaluators compare the test split
with as many generated samples. A trainer accumulates `feature_sums` in its eval step and
turns them into `report` (the distance, and two signs of mode collapse) in its eval report.
"""

from __future__ import annotations

import argparse
import functools
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

IMAGE_SHAPE = (28, 28, 1)  # The classifier's input: grey digits in [0, 1].
FEATURES = 64
WEIGHTS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "resources", "digit_classifier.npz")


class DigitClassifier(nn.Module):
    """conv 16 (3x3, stride 2) -> conv 32 (3x3, stride 2) -> dense 64 (the features) -> 10 logits."""

    @nn.compact
    def __call__(self, images):
        """images: [batch, 28, 28, 1] in [0, 1] -> (features [batch, 64], logits [batch, 10])."""
        h = images.astype(jnp.float32)
        for i, width in enumerate((16, 32)):
            h = nn.relu(nn.Conv(width, (3, 3), strides=(2, 2), name=f"conv_{i}")(h))
        features = nn.relu(nn.Dense(FEATURES, name="features")(h.reshape((h.shape[0], -1))))
        return features, nn.Dense(10, name="logits")(features)


def applies(image_shape) -> bool:
    """Whether images of `image_shape` (H, W, C) can be scored: 28x28 grey digits only."""
    return tuple(int(d) for d in image_shape) == IMAGE_SHAPE


@functools.lru_cache(maxsize=1)
def load_weights(path: str = WEIGHTS) -> tuple[dict, float]:
    """(the classifier's parameters, its test accuracy) from an .npz of 'module/param' arrays (no pickle)."""
    params: dict = {}
    with np.load(path, allow_pickle=False) as stored:
        for name in stored.files:
            if name == "test_accuracy":
                continue
            module, param = name.split("/")
            params.setdefault(module, {})[param] = np.asarray(stored[name])
        return params, float(stored["test_accuracy"])


def features(images, params=None):
    """images [batch, 28, 28, 1] in [0, 1] -> (features [batch, 64], class probabilities [batch, 10])."""
    params = load_weights()[0] if params is None else params
    feats, logits = DigitClassifier().apply({"params": params}, images)
    return feats, jax.nn.softmax(logits)


def feature_sums(images, mask) -> dict:
    """Sums over the unmasked images of their features, outer products and class probabilities.

    images: [batch, 28, 28, 1] in [0, 1]; mask: [batch] float. -> {'sum': [64], 'outer': [64, 64],
    'probs': [10], 'count': []}, to add over an eval split's batches (`statistics` reads them).
    """
    feats, probs = features(images)
    weighted = feats * mask[:, None]
    return {"sum": jnp.sum(weighted, 0), "outer": weighted.T @ feats, "probs": jnp.sum(probs * mask[:, None], 0),
            "count": jnp.sum(mask)}


def statistics(sums) -> tuple[np.ndarray, np.ndarray]:
    """(mean [64], unbiased covariance [64, 64]) in float64 from `feature_sums` added over a split."""
    count = float(sums["count"])
    mean = np.asarray(sums["sum"], np.float64) / count
    outer = np.asarray(sums["outer"], np.float64)
    return mean, (outer - count * np.outer(mean, mean)) / (count - 1)


def _sqrt_psd(matrix):
    """The principal square root of a symmetric positive semi-definite matrix (eigenvalues clipped at 0)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def distance(mean_a, cov_a, mean_b, cov_b) -> float:
    """The Frechet distance between N(mean_a, cov_a) and N(mean_b, cov_b) (see the module docstring)."""
    root_a = _sqrt_psd(np.asarray(cov_a, np.float64))
    cross = np.linalg.eigvalsh(root_a @ np.asarray(cov_b, np.float64) @ root_a)
    diff = np.asarray(mean_a, np.float64) - np.asarray(mean_b, np.float64)
    return float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2 * np.sum(np.sqrt(np.clip(cross, 0, None))))


def pair_sums(real, fake, mask) -> dict:
    """{'real', 'fake'}: the `feature_sums` of real images and of as many generated ones, [batch, 28, 28, 1]
    in [0, 1] each, over the unmasked examples; an eval step's Frechet sums, read by `pair_report`."""
    return {"real": feature_sums(real, mask), "fake": feature_sums(fake, mask)}


def pair_report(sums: dict) -> dict[str, float]:
    """`report` of the totals of `pair_sums`."""
    return report(sums["real"], sums["fake"])


def report(real_sums, fake_sums) -> dict[str, float]:
    """{'frechet': the distance, 'modes': exp(entropy) of the samples' mean class distribution (10 when
    every digit is drawn equally often, 1 under total mode collapse), 'diversity': the samples' feature
    variance over the real digits'} from the `feature_sums` of real and generated images."""
    real_mean, real_cov = statistics(real_sums)
    fake_mean, fake_cov = statistics(fake_sums)
    classes = np.asarray(fake_sums["probs"], np.float64) / float(fake_sums["count"])
    entropy = -np.sum(classes * np.log(np.clip(classes, 1e-12, None)))
    return {"frechet": distance(real_mean, real_cov, fake_mean, fake_cov), "modes": float(np.exp(entropy)),
            # Clipped at 0: for collapsed samples, float32 sums can leave a trace of -1e-9.
            "diversity": float(max(np.trace(fake_cov), 0.0) / np.trace(real_cov))}


# ------------------------------------------------------------------ training the shipped classifier


def train_classifier(seed: int = 0, epochs: int = 30, batch_size: int = 128) -> tuple[dict, float]:
    """Trains `DigitClassifier` on mnist_5k's 4,000 training digits (shifted by up to 2 pixels),
    Adam 1e-3, batch 128; -> (parameters, accuracy on the 1,000 test digits)."""
    import optax

    from jaxae.data import host, sources
    from jaxae.data.transforms import random_shift

    def split(name):
        arrays = host.read_all(sources.open_tfds("mnist_5k", name), ["image", "label"])
        return arrays["image"].astype(np.float32) / 255.0, arrays["label"]

    (train_x, train_y), (test_x, test_y) = split("train"), split("test")
    model, tx = DigitClassifier(), optax.adam(1e-3)
    key = jax.random.PRNGKey(seed)
    params = model.init(key, train_x[:1])["params"]
    opt_state = tx.init(params)

    @jax.jit
    def step(params, opt_state, key, images, labels):
        shift_keys = jax.random.split(key, images.shape[0])
        images = jax.vmap(lambda k, x: random_shift(k, x, max_shift=2))(shift_keys, images)

        def loss(p):
            logits = model.apply({"params": p}, images)[1]
            return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))

        grads = jax.grad(loss)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return jax.tree.map(jnp.add, params, updates), opt_state

    order_rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        order = order_rng.permutation(len(train_x))
        for start in range(0, len(order) - batch_size + 1, batch_size):
            chosen = order[start:start + batch_size]
            key, step_key = jax.random.split(key)
            params, opt_state = step(params, opt_state, step_key, train_x[chosen], train_y[chosen])
    predictions = np.argmax(np.asarray(model.apply({"params": params}, test_x)[1]), -1)
    return params, float(np.mean(predictions == test_y))


def save_weights(path: str, params, test_accuracy: float) -> None:
    arrays = {f"{module}/{name}": np.asarray(value)
              for module, layer in params.items() for name, value in layer.items()}
    np.savez_compressed(path, test_accuracy=np.float64(test_accuracy), **arrays)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Retrains the Frechet distance's digit classifier.")
    parser.add_argument("--out", default=WEIGHTS, help="where the .npz goes (default: the shipped weights)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    params, accuracy = train_classifier(args.seed)
    save_weights(args.out, params, accuracy)
    print(f"test accuracy {accuracy:.4f}; weights written to {args.out}")


if __name__ == "__main__":
    main()
