"""End to end: every config's tiny variant through the shared loop, outputs, and refusal of
checkpoints written by another model."""

import collections
import json
import os

import jax
import numpy as np
import pytest
from PIL import Image

import cases
from jaxae.data import sources, spec as specs
from jaxae.devices import parallel
from jaxae.engine import loop
from jaxae.errors import CheckpointError, ConfigError
from jaxae.runs.metric_writers import read_metrics

# The config route (the embedded data set, the configs' cadence, pictures) of a plain, a variational and a
# convolutional autoencoder; the denoising and sparse ones differ in their loss only, which their cases of
# tests/test_every_family.py train.
CONFIGS = ["vae_mnist", "ae_mnist", "conv_vae_mnist"]


@pytest.mark.parametrize("name", CONFIGS)
def test_every_tiny_config_trains_end_to_end(tiny_config, tmp_path, name):
    config = tiny_config(name)
    result = loop.run(config, str(tmp_path))
    assert result.step == config.num_steps == 20
    assert sorted(os.listdir(result.checkpoint_dir)) == ["10", "20"]
    records = read_metrics(str(tmp_path))
    train_steps = [r["step"] for r in records if "train/loss" in r]
    assert train_steps == [5, 10, 15, 20]
    assert [r["step"] for r in records if any(k.startswith("eval/") for k in r)] == [10, 20]
    assert all(np.isfinite(r["train/loss"]) for r in records if "train/loss" in r)
    # A VAE's prior samples are scored too (the Frechet distance of 28x28 digits, jaxae/metrics/frechet.py).
    variational = {"eval/neg_elbo", "eval/kl", "eval/recon", "eval/frechet", "eval/modes", "eval/diversity"}
    expected_eval = {"eval/mse", "eval/bce"} | (variational if "vae" in name else set())
    assert set(result.eval_metrics) == expected_eval
    names = sorted(os.listdir(tmp_path / "images"))
    assert "reconstructions_0000020.png" in names
    assert ("samples_0000020.png" in names) == ("traversals_0000020.png" in names) == ("vae" in name)
    assert "interpolations_0000020.png" in names
    with Image.open(tmp_path / "images" / "reconstructions_0000020.png") as image:
        assert image.size[0] > 28 and image.size[1] > 2 * 28
    assert os.listdir(tmp_path / "tensorboard")


def test_resumed_run_continues_a_finished_run_without_new_records(tiny_config, tmp_path):
    config = tiny_config()
    first = loop.run(config, str(tmp_path))
    again = loop.run(config, str(tmp_path))
    assert again.eval_metrics == first.eval_metrics
    assert len(read_metrics(str(tmp_path))) == 6  # 4 train windows + 2 evals, none written twice.


def test_longer_run_continues_from_the_last_checkpoint(tiny_config, tmp_path):
    short = tiny_config()
    loop.run(short, str(tmp_path / "resumed"))
    longer = tiny_config()
    longer.num_steps = 30
    resumed = loop.run(longer, str(tmp_path / "resumed"))
    straight = loop.run(longer, str(tmp_path / "straight"))
    strip = lambda records: [{k: v for k, v in r.items() if k != "train/examples_per_sec"} for r in records]
    assert strip(read_metrics(str(tmp_path / "resumed"))) == strip(read_metrics(str(tmp_path / "straight")))
    assert resumed.eval_metrics == straight.eval_metrics


def test_checkpoint_of_another_model_is_refused_and_left_intact(tiny_config, tmp_path):
    loop.run(tiny_config("vae_mnist"), str(tmp_path))
    before = {p: os.path.getmtime(os.path.join(dp, p)) for dp, _, files in os.walk(tmp_path / "checkpoints") for p in files}
    other = tiny_config("ae_mnist")
    other.model.latent_dim = 7
    with pytest.raises(CheckpointError) as error:
        loop.run(other, str(tmp_path))
    message = str(error.value)
    assert "model.name: checkpoint 'vae', this run 'ae'" in message
    assert "model.latent_dim: checkpoint 4, this run 7" in message
    assert "data.binarize: checkpoint 'static', this run 'none'" in message  # Grey levels against binarised digits.
    after = {p: os.path.getmtime(os.path.join(dp, p)) for dp, _, files in os.walk(tmp_path / "checkpoints") for p in files}
    assert after == before


def test_in_memory_arrays_train_through_the_same_loop(tiny_config, tmp_path):
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(96, 8, 8, 1)).astype(np.float32)
    config = tiny_config("ae_mnist")
    result = loop.train(config, str(tmp_path), sources.ArraySource.from_images(images[:64]),
                        sources.ArraySource.from_images(images[64:]), parallel.make_mesh(0))
    assert result.step == 20 and np.isfinite(result.eval_metrics["eval/mse"])
    with open(tmp_path / "metrics.jsonl") as lines:
        assert json.loads(lines.readline())["step"] == 5


def test_a_checkpoint_past_the_requested_steps_is_refused(tiny_config, tmp_path):
    loop.run(tiny_config(), str(tmp_path))
    shorter = tiny_config()
    shorter.num_steps = 10
    with pytest.raises(ConfigError, match=r"holds step 20, past the end of this run.s phases \(train 10: 10 steps\)"):
        loop.run(shorter, str(tmp_path))


def test_eval_metrics_do_not_depend_on_the_eval_batch_size(tiny_config):
    from jaxae.engine.evaluation import Evaluator
    from jaxae.trainers import create_trainer

    config = tiny_config()
    config.data.binarize = "dynamic"  # Random binarisation and the VAE's noise: both drawn per example.
    mesh = parallel.make_mesh(1)
    source = sources.open_tfds("mnist_5k", "test")
    trainer = create_trainer(config, source.spec, len(source))
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    small, large = (Evaluator(trainer, source, mesh, size, num_image_examples=0, num_samples=0).metrics(state)
                    for size in (64, 200))
    assert small.keys() == large.keys()
    for name in small:
        assert small[name] == pytest.approx(large[name], rel=1e-5), name


def test_every_value_is_checked_once_where_it_enters_host_memory(tmp_path, monkeypatch):
    """A tfds split decoded into host memory is checked as it is read, not again by the ArraySource it
    becomes, the device-resident runner or the evaluator; a user's arrays are checked when they are
    made, and never again."""
    checked, check_values = collections.Counter(), specs.check_values

    def counting(name, field, values, *, where, indices=None):
        checked[where, name] += len(values)
        check_values(name, field, values, where=where, indices=indices)

    monkeypatch.setattr(specs, "check_values", counting)
    for kind, sources_ in (("tfds", lambda: cases.prepared("tfds_digits")), ("arrays", cases.digits.__wrapped__)):
        checked.clear()
        train_source, eval_source = sources_()
        loop.train(cases.config("ae_mnist", num_steps=4, eval_every=2), str(tmp_path / kind), train_source, eval_source)
        read = {(source.where, name) for source in (train_source, eval_source) for name in source.spec}
        assert {(train_source.where, "image"), (eval_source.where, "image")} <= set(checked) <= read, kind
        assert all(count == len(train_source if where == train_source.where else eval_source)
                   for (where, _), count in checked.items()), (kind, checked)
