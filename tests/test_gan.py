"""The GAN family: each loss against its closed form, InfoGAN's bounds and the Frechet distance
against NumPy/SciPy, the two phases touching one player each, BatchNorm against NumPy,
InfoGAN's code scored as a clustering, and a discriminator that wins outright stopping the run.
(1 against 8 devices and resuming: tests/test_every_family.py, on the same run.)"""

import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
import scipy.special
import scipy.stats

import jaxae
from jaxae import losses
from jaxae.data import host, sources
from jaxae.devices import parallel
from jaxae.engine import loop
from jaxae.errors import TrainingFailedError
from jaxae.metrics import frechet
from jaxae.models.gan import BatchNorm
from jaxae.runs.metric_writers import read_metrics
from jaxae.trainers import create_trainer
import cases
from helpers import hungarian_accuracy, tiny, train


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


@pytest.mark.parametrize("kind", losses.ADVERSARIAL_LOSSES)
def test_each_adversarial_loss_is_its_closed_form(kind):
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=8) * 3, rng.normal(size=8) * 3
    label = 0.9 if kind != "hinge" else 1.0
    d_real, d_fake = sigmoid(real), sigmoid(fake)
    expected_d = {
        "non_saturating": -(label * np.log(d_real) + (1 - label) * np.log(1 - d_real)) - np.log(1 - d_fake),
        "least_squares": 0.5 * (real - label) ** 2 + 0.5 * fake**2,
        "hinge": np.maximum(0, 1 - real) + np.maximum(0, 1 + fake)}
    expected_d["minimax"] = expected_d["non_saturating"]
    expected_g = {"non_saturating": -np.log(d_fake), "minimax": np.log(1 - d_fake),
                  "least_squares": 0.5 * (fake - 1) ** 2, "hinge": -fake}
    d = losses.discriminator_loss(jnp.asarray(real, jnp.float32), jnp.asarray(fake, jnp.float32), kind=kind,
                                  real_label=label)
    np.testing.assert_allclose(d, expected_d[kind], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(losses.generator_loss(jnp.asarray(fake, jnp.float32), kind=kind), expected_g[kind],
                               rtol=1e-5, atol=1e-6)


def test_infogan_bounds_match_numpy():
    rng = np.random.default_rng(1)
    logits, codes = rng.normal(size=(6, 10)), rng.integers(0, 10, 6)
    log_q = logits - scipy.special.logsumexp(logits, axis=1, keepdims=True)
    np.testing.assert_allclose(losses.categorical_information(jnp.asarray(logits, jnp.float32), jnp.asarray(codes)),
                               log_q[np.arange(6), codes] + np.log(10), rtol=1e-5, atol=1e-6)
    means, continuous = rng.normal(size=(6, 2)), rng.uniform(-1, 1, size=(6, 2))
    expected = (scipy.stats.norm.logpdf(continuous, means, 1.0) + np.log(2.0)).sum(1)
    np.testing.assert_allclose(losses.uniform_code_information(jnp.asarray(means, jnp.float32),
                                                               jnp.asarray(continuous, jnp.float32)),
                               expected, rtol=1e-5, atol=1e-5)
    # A perfect categorical Q reaches the bound's ceiling, H(c) = log K.
    sure = jnp.asarray(np.eye(10)[codes] * 50, jnp.float32)
    np.testing.assert_allclose(losses.categorical_information(sure, jnp.asarray(codes)), np.log(10), atol=1e-5)


def test_frechet_distance_matches_scipy_sqrtm_and_the_sums_give_numpy_moments():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    cov_a, cov_b = a @ a.T + 0.1 * np.eye(5), b @ b.T
    mean_a, mean_b = rng.normal(size=5), rng.normal(size=5)
    reference = (np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b)
                 - 2 * np.trace(scipy.linalg.sqrtm(cov_a @ cov_b).real))
    assert frechet.distance(mean_a, cov_a, mean_b, cov_b) == pytest.approx(reference, rel=1e-8)
    assert frechet.distance(mean_a, cov_a, mean_a, cov_a) == pytest.approx(0, abs=1e-8)
    # Moments from the eval step's sums equal NumPy's, masked examples left out.
    images = rng.uniform(size=(12, 28, 28, 1)).astype(np.float32)
    mask = np.r_[np.ones(9), np.zeros(3)].astype(np.float32)
    mean, cov = frechet.statistics(jax.device_get(frechet.feature_sums(jnp.asarray(images), jnp.asarray(mask))))
    feats = np.asarray(frechet.features(jnp.asarray(images[:9]))[0], np.float64)
    np.testing.assert_allclose(mean, feats.mean(0), rtol=1e-5, atol=1e-6)
    # Float32 sums of outer products, then the mean's part subtracted: ~1e-5 of the features' scale.
    np.testing.assert_allclose(cov, np.cov(feats, rowvar=False), rtol=1e-4, atol=1e-4)
    assert frechet.load_weights()[1] >= 0.95  # The shipped classifier's test accuracy.


@pytest.mark.parametrize("channels_first", [False, True])
def test_batch_norm_normalises_each_channel_over_the_batch_like_numpy(channels_first):
    x = np.random.default_rng(3).normal(2.0, 3.0, size=(6, 4, 4, 3)).astype(np.float32)
    inputs = x.transpose(3, 0, 1, 2) if channels_first else x
    norm = BatchNorm(channels_first=channels_first, momentum=0.5)
    variables = norm.init(jax.random.PRNGKey(0), inputs, train=False)
    out, updates = norm.apply(variables, inputs, train=True, mutable=["batch_stats"])
    out = np.asarray(out).transpose(1, 2, 3, 0) if channels_first else np.asarray(out)
    mean, var = x.mean((0, 1, 2)), x.var((0, 1, 2))
    np.testing.assert_allclose(out, (x - mean) / np.sqrt(var + 1e-5), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(updates["batch_stats"]["mean"], 0.5 * mean, rtol=1e-5)
    np.testing.assert_allclose(updates["batch_stats"]["var"], 0.5 + 0.5 * var, rtol=1e-5)


# ------------------------------------------------------------------------------ through the loop


@pytest.fixture(scope="module")
def digits():
    return cases.digits()


def sgd_config(mode="jit", **fields):
    """A tiny DCGAN on 8x8 digits, both players on plain SGD and with BatchNorm."""
    return cases.config("dcgan_mnist", mode, **fields)


@pytest.fixture(scope="module")
def one_device():
    return cases.trained("dcgan_mnist")


def test_each_phase_updates_only_its_own_player(digits):
    config = sgd_config()
    trainer = create_trainer(config, digits[0].spec, len(digits[0]))
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    real = trainer.real_images(jnp.asarray(np.random.default_rng(0).integers(0, 256, (32, 8, 8, 1)), jnp.uint8))
    latents = trainer.sample_latents(jax.random.split(jax.random.PRNGKey(1), 32))[0]
    generate = lambda g: trainer.run("generator", g, trainer.stats(state, "generator"), latents, train=True)[0]
    fake, fake_vjp = jax.vjp(generate, state.params["generator"])
    after_d, _ = jax.jit(trainer.discriminator_phase)(state, real, fake)
    after_g, _ = jax.jit(trainer.generator_phase)(state, fake, fake_vjp)
    for after, still, moved in ((after_d, "generator", "discriminator"), (after_g, "discriminator", "generator")):
        chex.assert_trees_all_equal(after.params[still], state.params[still])
        chex.assert_trees_all_equal(after.opt_state[still], state.opt_state[still])
        changed = jax.tree.map(lambda a, b: bool(np.any(np.asarray(a) != np.asarray(b))),
                               after.params[moved], state.params[moved])
        assert all(jax.tree.leaves(changed)), f"the {moved} phase left some of its parameters unchanged"


def test_a_run_trains_both_players_and_reports(one_device):
    records = read_metrics(one_device.workdir)
    train_records = [r for r in records if "train/d_loss" in r]
    assert [r["step"] for r in train_records] == [2, 4, 6, 8]
    assert all(np.isfinite(r["train/d_loss"]) and r["train/sample_std"] > 0 for r in train_records)
    assert 0 < one_device.eval_metrics["eval/d_real"] < 1
    assert "eval/frechet" not in one_device.eval_metrics  # 8x8 digits: the classifier reads 28x28 only.
    stats = jax.device_get(one_device.state.extra["batch_stats"])
    assert any(np.any(leaf != 0) for leaf in jax.tree.leaves(stats))  # Running means moved from 0.
    samples = jaxae.load(one_device.workdir, mesh=parallel.make_mesh(1)).generate(5, seed=3)
    assert samples.shape == (5, 8, 8, 1) and samples.min() >= 0 and samples.max() <= 1
    again = jaxae.load(one_device.workdir, mesh=parallel.make_mesh(1)).generate(5, seed=3)
    np.testing.assert_array_equal(samples, again)


def test_a_discriminator_that_wins_outright_stops_the_run_naming_the_steps(tmp_path, digits):
    config = sgd_config(gan__d_wins_below=100.0)  # Any loss is "near 0" against this threshold.
    with pytest.raises(TrainingFailedError, match=r"steps 1-2: the discriminator won outright.*no checkpoint"):
        train(tmp_path, config, digits)
    assert not os.path.isdir(tmp_path / "checkpoints") or not [n for n in os.listdir(tmp_path / "checkpoints")
                                                               if n.isdigit()]


def test_infogan_scores_its_code_as_a_clustering_and_draws_traversals(tmp_path):
    config = tiny("infogan_mnist", num_steps=4, log_every=2, checkpoint_every=4, eval_every=4)
    metrics = loop.run(config, str(tmp_path)).eval_metrics
    assert 0.1 <= metrics["eval/code_acc"] <= 1 and 0 <= metrics["eval/code_nmi"] <= 1
    assert metrics["eval/frechet"] > 0 and 1 <= metrics["eval/modes"] <= 10
    records = [r for r in read_metrics(str(tmp_path)) if "train/mi_categorical" in r]
    assert records and all(r["train/mi_categorical"] <= np.log(10) + 1e-6 for r in records)
    images = sorted(os.listdir(tmp_path / "images"))
    assert {"samples_0000004.png", "categories_0000004.png", "code_1_0000004.png", "code_2_0000004.png"} <= set(images)
    # The eval's code accuracy is that of jaxae.load's predictions on the test digits, matched by SciPy.
    model = jaxae.load(str(tmp_path), mesh=parallel.make_mesh(1))
    test = host.read_all(sources.open_tfds("mnist_5k", "test"), ["image", "label"])
    codes = model.predict(test["image"])
    assert metrics["eval/code_acc"] == pytest.approx(hungarian_accuracy(test["label"], codes), abs=1e-9)


@pytest.mark.parametrize("impl", ["native", "matmul"])
def test_convolutional_players_take_32x32_colour_images(impl):
    from jaxae.models.gan import Discriminator, Generator

    generator = Generator((), (4, 8), (32, 32, 3), axis_name=None, conv_impl=impl)
    discriminator = Discriminator((16,), (4, 8), q_outputs=3, conv_impl=impl)
    z = jnp.ones((2, 5))
    g_vars = generator.init(jax.random.PRNGKey(0), z, train=False)
    images = generator.apply(g_vars, z, train=False)
    assert images.shape == (2, 32, 32, 3) and float(jnp.abs(images).max()) <= 1.0
    d_vars = discriminator.init(jax.random.PRNGKey(1), images)
    logits, q = discriminator.apply(d_vars, images)
    assert logits.shape == (2,) and q.shape == (2, 3)
    grid = g_vars["params"]["grid"]["kernel"].shape
    assert grid == (5, 8 * 8 * 8)  # 32 -> 16 -> 8: an 8x8 grid of the last 8 channels.


@pytest.mark.parametrize("name", ["gan_mnist", "dcgan_mnist", "infogan_mnist", "aae_mnist", "aae_cluster_mnist"])
@pytest.mark.parametrize("variant", ["", "tiny"])
def test_every_adversarial_config_validates_and_builds_its_state(name, variant):
    import importlib

    from jaxae.config.validation import validate_config

    config = importlib.import_module(f"configs.{name}").get_config(variant)
    validate_config(config)
    source = sources.open_tfds("mnist_5k", "train")
    trainer = create_trainer(config, source.spec, len(source))
    state = jax.eval_shape(trainer.init, jax.random.PRNGKey(0))
    assert set(state.params) == set(state.opt_state) - {"encoder"}
