"""The autoencoder trainer's steps: learning, the two data paths, and devices."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxae import losses, parallel
from jaxae.data import pipeline, sources
from jaxae.runners import DeviceResidentRunner, StreamingRunner
from jaxae.trainers import create_trainer


@pytest.fixture(scope="module")
def digits():
    return sources.open_tfds("sklearn_digits", "train")


def small_config(tiny_config, name="vae_mnist"):
    config = tiny_config(name)
    config.model.hidden = (16,)
    return config


def init_state(trainer, mesh):
    return jax.jit(trainer.init, out_shardings=parallel.replicated(mesh))(jax.random.PRNGKey(0))


def run_steps(runner_kind, config, source, mesh, steps, chunk):
    order = pipeline.BatchOrder(len(source), config.batch_size, config.seed)
    trainer = create_trainer(config, source.image_shape, steps)
    state = init_state(trainer, mesh)
    if runner_kind == "device":
        runner = DeviceResidentRunner(trainer.train_step, source, order, mesh)
    else:
        runner = StreamingRunner(trainer.train_step, source, order, mesh, start_step=0, stop_step=steps, prefetch=2)
    sums = []
    for step in range(0, steps, chunk):
        state, metrics = runner(state, step, chunk)
        sums.append(jax.device_get(metrics))
    return jax.device_get(state), sums


def test_vae_training_lowers_the_loss(tiny_config, digits):
    config = small_config(tiny_config)
    mesh = parallel.make_mesh(1)
    _, sums = run_steps("device", config, digits, mesh, steps=200, chunk=50)
    first, last = sums[0]["loss"] / 50, sums[-1]["loss"] / 50
    assert last < 0.8 * first
    assert {"loss", "recon", "kl", "beta", "neg_elbo", "grad_norm"} <= set(sums[0])


def test_device_resident_and_streaming_paths_agree(tiny_config, digits):
    config = small_config(tiny_config)
    mesh = parallel.make_mesh(1)
    device_state, device_sums = run_steps("device", config, digits, mesh, steps=12, chunk=4)
    stream_state, stream_sums = run_steps("stream", config, digits, mesh, steps=12, chunk=4)
    assert int(device_state.step) == int(stream_state.step) == 12
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
                 device_state.params, stream_state.params)
    np.testing.assert_allclose(device_sums[-1]["loss"], stream_sums[-1]["loss"], rtol=1e-5)


@pytest.mark.parametrize("family", ["ae_mnist", "vae_mnist"])
def test_eight_devices_match_one_device_with_plain_sgd(tiny_config, digits, family):
    # Adam's normalisation would hide a gradient that is N times too large; plain SGD does not.
    config = small_config(tiny_config, family)
    config.optimizer.name, config.optimizer.learning_rate = "sgd", 0.05
    one, _ = run_steps("device", config, digits, parallel.make_mesh(1), steps=5, chunk=5)
    eight, _ = run_steps("device", config, digits, parallel.make_mesh(8), steps=5, chunk=5)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5), one.params, eight.params)


def test_kl_warmup_ramps_beta(tiny_config, digits):
    config = small_config(tiny_config)
    config.loss.beta, config.loss.kl_warmup_steps = 4.0, 10
    trainer = create_trainer(config, digits.image_shape, 20)
    assert float(trainer._beta(jnp.asarray(0))) == 0.0
    assert float(trainer._beta(jnp.asarray(5))) == pytest.approx(2.0)
    assert float(trainer._beta(jnp.asarray(50))) == pytest.approx(4.0)


def test_sparse_penalty_is_added_to_the_loss(tiny_config, digits):
    config = small_config(tiny_config, "sparse_ae_mnist")
    trainer = create_trainer(config, digits.image_shape, 10)
    state = init_state(trainer, parallel.make_mesh(1))
    x = trainer.model_inputs(jnp.asarray(digits.read(np.arange(32))["image"]), None)
    loss, metrics = trainer.loss_fn(state.params, x, x, jax.random.PRNGKey(0), state.step)
    _, aux = trainer.model.apply({"params": state.params}, x)
    rho_hat = jnp.mean(jax.nn.sigmoid(aux["z"]), axis=0)
    expected_penalty = (config.loss.kl_sparsity_weight * jnp.sum(losses.kl_sparsity(rho_hat, target=0.05))
                        + config.loss.l2_weight * losses.l2_penalty(state.params))
    np.testing.assert_allclose(metrics["penalty"], expected_penalty, rtol=1e-5)
    np.testing.assert_allclose(loss, metrics["recon"] + expected_penalty, rtol=1e-5)


def test_denoising_corrupts_inputs_but_not_targets(tiny_config, digits):
    config = small_config(tiny_config, "dae_mnist")
    trainer = create_trainer(config, digits.image_shape, 10)
    state = init_state(trainer, parallel.make_mesh(1))
    batch = {"image": jnp.asarray(digits.read(np.arange(32))["image"])}
    _, metrics = jax.jit(trainer.train_step)(state, batch)
    # Recompute the same step's loss by hand: same keys, corrupted inputs, clean targets.
    key = jax.random.fold_in(state.key, 0)
    binarize_key, noise_key, sample_key = jax.random.split(key, 3)
    clean = trainer.model_inputs(batch["image"], binarize_key)
    from jaxae.corruptions import masking_noise
    noisy = masking_noise(noise_key, clean, rate=config.noise.level)
    recon, _ = trainer.model.apply({"params": state.params}, noisy)
    expected = jnp.mean(losses.bce_with_logits(trainer.model.apply({"params": state.params}, noisy)[1]["logits"], clean))
    np.testing.assert_allclose(metrics["recon"], expected, rtol=1e-5)
    assert recon.shape == clean.shape
