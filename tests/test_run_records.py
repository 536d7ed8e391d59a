"""Run records, `jaxae.load`, and which config changes a resume accepts or refuses."""

import json
import shutil

import jax
import numpy as np
import pytest

import jaxae
from jaxae.data import sources
from jaxae.devices import parallel
from jaxae.engine import loop
from jaxae.errors import CheckpointError, DataError
from helpers import tiny


@pytest.fixture(scope="module")
def trained_vae(tmp_path_factory, tiny_config):
    workdir = tmp_path_factory.mktemp("vae")
    return workdir, loop.run(tiny_config("vae_mnist"), str(workdir))


def test_the_workdir_records_config_data_and_versions(trained_vae):
    workdir, _ = trained_vae
    record = json.loads((workdir / "run.json").read_text())
    assert record["config"]["model"]["latent_dim"] == 4 and record["config"]["trainer"] == "autoencoder"
    assert record["data"]["spec"]["image"] == {"kind": "image", "shape": [28, 28, 1], "dtype": "uint8", "vocab_size": None}
    assert record["data"]["fingerprint"].startswith("tfds mnist_5k 1.0.0 split=train n=4000")
    assert record["data"]["num_examples"] == 4000
    assert record["versions"]["jax"] == jax.__version__ and record["versions"]["jaxae"] == jaxae.__version__


def test_load_encodes_as_the_training_run_did(trained_vae):
    workdir, result = trained_vae
    model = jaxae.load(str(workdir))
    assert model.step == 20 and model.config.model.latent_dim == 4
    images = sources.open_tfds("mnist_5k", "test").read(np.arange(37), ["image"])["image"]  # Not a batch multiple.
    # The encoder applied to the run's own input transform (static binarisation), with the run's parameters.
    trainer_model = model.model
    inputs = (images.astype(np.float32) / 255.0 > 0.5).astype(np.float32)
    expected, _ = trainer_model.apply({"params": jax.device_get(result.state.params)}, inputs, method="encode")
    np.testing.assert_allclose(model.encode(images), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(model.encode(images.astype(np.float32) / 255.0), expected, rtol=1e-5, atol=1e-5)
    decoded = model.decode(model.encode(images))
    assert decoded.shape == (37, 28, 28, 1) and 0 <= decoded.min() and decoded.max() <= 1
    np.testing.assert_allclose(model.reconstruct(images), decoded, rtol=1e-5, atol=1e-6)


def test_load_takes_an_older_step_and_refuses_what_is_not_a_run(trained_vae, tmp_path):
    workdir, _ = trained_vae
    assert jaxae.load(str(workdir), step=10).step == 10
    with pytest.raises(CheckpointError, match="has no checkpoint of step 7; it has \\[10, 20\\]"):
        jaxae.load(str(workdir), step=7)
    with pytest.raises(CheckpointError, match="holds no jaxae run"):
        jaxae.load(str(tmp_path / "nothing"))
    (tmp_path / "empty" / "checkpoints").mkdir(parents=True)
    with pytest.raises(CheckpointError, match="holds no checkpoint that can be read \\(it is empty\\)"):
        jaxae.load(str(tmp_path / "empty"))


def test_load_refuses_images_of_another_shape(trained_vae):
    model = jaxae.load(str(trained_vae[0]))
    with pytest.raises(DataError, match=r"images are \(8, 8, 1\) per example but this model was trained on \(28, 28, 1\)"):
        model.encode(np.zeros((3, 8, 8), np.uint8))
    with pytest.raises(DataError, match=r"codes must be \[n, 4\]"):
        model.decode(np.zeros((3, 5)))


def test_load_of_arrays_trained_through_loop_train(tmp_path, tiny_config):
    images = np.random.default_rng(0).uniform(size=(96, 8, 8, 1)).astype(np.float32)
    config = tiny_config("ae_mnist")
    result = loop.train(config, str(tmp_path), sources.ArraySource.from_images(images[:64]),
                        sources.ArraySource.from_images(images[64:]), parallel.make_mesh(2))
    model = jaxae.load(str(tmp_path), mesh=parallel.make_mesh(2))
    expected = model.model.apply({"params": jax.device_get(result.state.params)}, images, method="encode")
    np.testing.assert_allclose(model.encode(images), expected, rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------- what a resume may change

@pytest.fixture(scope="module")
def ten_steps(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("ten_steps")
    loop.run(tiny(num_steps=10), str(workdir))
    return workdir


def resume_copy(tmp_path, workdir, **changes):
    """Resumes a copy of `workdir` with the tiny config changed as asked."""
    copy = tmp_path / "copy"
    shutil.copytree(workdir, copy)
    return loop.run(tiny(**{"num_steps": 10, **changes}), str(copy))


def test_a_resume_may_change_rates_clipping_cadence_length_and_unread_fields(tmp_path, ten_steps):
    changes = dict(optimizer__learning_rate=3e-4, optimizer__b2=0.99, optimizer__eps=1e-6, optimizer__grad_clip_norm=5.0,
                   log_every=10, checkpoint_every=20, eval_every=0, keep_checkpoints=2, num_steps=20,
                   model__channels=(16, 32))  # Channels: not read by an MLP.
    assert resume_copy(tmp_path, ten_steps, **changes).step == 20


@pytest.mark.parametrize("field, value, listed", [
    ("model__hidden", (16,), "model.hidden: checkpoint [32], this run [16]"),
    ("loss__beta", 2.0, "loss.beta: checkpoint 1.0, this run 2.0"),
    ("data__train_split", "test", "data.fingerprint: checkpoint 'tfds mnist_5k 1.0.0 split=train n=4000', "
                                  "this run 'tfds mnist_5k 1.0.0 split=test n=1000'"),
    ("optimizer__name", "adamw", "optimizer.name: checkpoint 'adam', this run 'adamw'"),
    ("seed", 1, "seed: checkpoint 0, this run 1"),
])
def test_a_resume_refuses(tmp_path, ten_steps, field, value, listed):
    with pytest.raises(CheckpointError, match="cannot be resumed") as error:
        resume_copy(tmp_path, ten_steps, **{field: value})
    assert listed in str(error.value) and "\n" not in str(error.value)


def test_a_resume_refuses_another_family(tmp_path, ten_steps):
    import toy_family

    copy = tmp_path / "copy"
    shutil.copytree(ten_steps, copy)
    train_source, eval_source = toy_family.data()
    with pytest.raises(CheckpointError, match=r"holds step 10 of a trainer='autoencoder' run; this run is "
                                              r"trainer='toy'\. Nothing was changed: use another workdir, or "
                                              r"on_mismatch='new_workdir'$"):
        loop.train(toy_family.config(), str(copy), train_source, eval_source, parallel.make_mesh(1))


def test_a_schedule_horizon_is_identity_only_for_a_decaying_schedule(tmp_path):
    loop.run(tiny(num_steps=10, optimizer__schedule="cosine"), str(tmp_path))
    with pytest.raises(CheckpointError, match="optimizer.schedule_steps: checkpoint 10, this run 20"):
        loop.run(tiny(num_steps=20, optimizer__schedule="cosine"), str(tmp_path))
