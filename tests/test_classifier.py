"""The classifier family (few labels) through the shared loop, on scikit-learn's digits: the
class-balanced draw, each mode's training, 1 against 8 devices (jit and pmap), bit-exact resume
around the draw, `jaxae.load` predictions, and configs refused before training."""

import os
import shutil

import chex
import jax
import numpy as np
import pytest

import jaxae
from jaxae import loop, parallel
from jaxae.data.builders import every_fifth_is_test, load_sklearn_digits_arrays, split_masks
from jaxae.data.sources import ArraySource
from jaxae.errors import ConfigError, DataError
from jaxae.labels import balanced_draw
from jaxae.metric_writers import read_metrics
from reliability_helpers import tiny

NUM_LABELS = 50


@pytest.fixture(scope="module")
def digits():
    images, labels = load_sklearn_digits_arrays()
    masks = split_masks(labels, every_fifth_is_test)
    return tuple(ArraySource.from_images(images[masks[s]], labels[masks[s]], name=f"digits {s}")
                 for s in ("train", "test"))


def config_for(mode, parallel_mode="jit", **fields):
    fields = dict(num_steps=8, log_every=4, checkpoint_every=4, eval_every=0, classifier__mode=mode,
                  classifier__num_labels=NUM_LABELS, pretrain__num_steps=8, parallel__mode=parallel_mode) | fields
    return tiny("few_labels_mnist", **fields)


def train(workdir, config, digits, mesh=None):
    return loop.train(config, str(workdir), *digits, mesh or parallel.make_mesh(1))


def without_timing(workdir):
    return [{k: v for k, v in r.items() if k != "train/examples_per_sec"} for r in read_metrics(str(workdir))]


def test_the_draw_is_class_balanced_seeded_and_refuses_a_class_too_small():
    labels = np.repeat(np.arange(10), [30, 25, 40, 30, 30, 30, 30, 30, 30, 30])
    chosen = balanced_draw(labels, 104, seed=3)
    assert len(np.unique(chosen)) == 104
    counts = np.bincount(labels[chosen], minlength=10)
    assert sorted(counts) == [10] * 6 + [11] * 4  # 104 = 10 x 10 + 4 classes with one more.
    np.testing.assert_array_equal(chosen, balanced_draw(labels, 104, seed=3))
    assert not np.array_equal(np.sort(chosen), np.sort(balanced_draw(labels, 104, seed=4)))
    np.testing.assert_array_equal(balanced_draw(labels, 5000, seed=0), np.arange(len(labels)))
    with pytest.raises(DataError, match="class 1 has 25 examples, fewer than the 26"):
        balanced_draw(labels, 260, seed=0)


@pytest.mark.parametrize("mode", ["scratch", "frozen", "finetune", "regularised"])
def test_each_mode_draws_its_labels_trains_and_predicts_as_it_evaluates(tmp_path, digits, mode):
    config = config_for(mode, num_steps=150, log_every=50, checkpoint_every=50, model__hidden=(64,), data__augment_shift=0,
                        model__latent_dim=16, classifier__optimizer__learning_rate=3e-3)
    result = train(tmp_path, config, digits)
    records = read_metrics(str(tmp_path))
    drawn = next(r for r in records if "classify/labelled" in r)
    pretrain_steps = 8 if mode in ("frozen", "finetune") else 0
    assert drawn["step"] == pretrain_steps and drawn["classify/labelled"] == NUM_LABELS
    assert drawn["classify/classes"] == 10
    assert result.step == pretrain_steps + 150
    # 50 labels of 8x8 digits, a few seconds of training: well above chance (0.1); a linear head
    # on the codes of 8 pretraining steps learns slowest.
    assert result.eval_metrics["eval/accuracy"] > (0.3 if mode == "frozen" else 0.5)
    test_images, test_labels = load_sklearn_digits_arrays()
    test = split_masks(test_labels, every_fifth_is_test)["test"]
    model = jaxae.load(str(tmp_path))
    probabilities = model.predict_proba(test_images[test])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    accuracy = np.mean(model.predict(test_images[test]) == test_labels[test])
    assert accuracy == pytest.approx(result.eval_metrics["eval/accuracy"], abs=1e-6)
    labelled = jax.device_get(result.state.extra)
    assert np.bincount(labelled["labels"], minlength=10).tolist() == [5] * 10


def test_a_frozen_encoder_stays_as_pretrained(tmp_path, digits):
    config = config_for("frozen", pretrain__num_steps=4, checkpoint_every=4, log_every=4)
    result = train(tmp_path, config, digits)
    pretrained = jaxae.load(str(tmp_path), step=4).classifier_params
    chex.assert_trees_all_equal(jax.device_get(result.state.params["autoencoder"]), pretrained["autoencoder"])
    assert not np.array_equal(jax.device_get(result.state.params["head"]["out"]["kernel"]),
                              pretrained["head"]["out"]["kernel"])


@pytest.fixture(scope="module")
def regularised_one(tmp_path_factory, digits):
    return train(tmp_path_factory.mktemp("regularised"), config_for("regularised"), digits)


@pytest.mark.parametrize("parallel_mode", ["jit", "pmap"])
def test_eight_devices_draw_and_train_as_one(tmp_path, digits, regularised_one, parallel_mode):
    eight = train(tmp_path, config_for("regularised", parallel_mode), digits, parallel.make_mesh(8))
    chex.assert_trees_all_close(jax.device_get(eight.state.params), jax.device_get(regularised_one.state.params),
                                rtol=1e-4, atol=1e-5)
    chex.assert_trees_all_equal(jax.device_get(eight.state.extra), jax.device_get(regularised_one.state.extra))
    assert eight.eval_metrics == pytest.approx(regularised_one.eval_metrics, rel=1e-4)


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory, digits):
    workdir = tmp_path_factory.mktemp("finetune")
    return workdir, train(workdir, config_for("finetune"), digits)


@pytest.mark.parametrize("keep_through", [4, 12])
def test_a_killed_run_resumes_bit_exactly_around_the_draw(tmp_path, digits, finetuned, keep_through):
    """Killed in pretraining (the draw at step 8 runs again on resume) or in the classifying phase."""
    workdir, whole = finetuned
    killed = tmp_path / "killed"
    shutil.copytree(workdir, killed)
    for name in os.listdir(killed / "checkpoints"):
        if name.isdigit() and int(name) > keep_through:
            shutil.rmtree(killed / "checkpoints" / name)
    resumed = train(killed, config_for("finetune"), digits)
    chex.assert_trees_all_equal(jax.device_get(resumed.state), jax.device_get(whole.state))
    assert without_timing(killed) == without_timing(workdir)


@pytest.mark.parametrize(("fields", "message"), [
    ({"classifier__mode": "semi"}, "classifier.mode"),
    ({"classifier__mode": "frozen", "pretrain__num_steps": 0, "pretrain__num_epochs": 0}, "pretrains the autoencoder"),
    ({"classifier__num_labels": 5}, "classifier.num_labels"),
    ({"loss__eval_iw_samples": 10}, "importance weighting"),
])
def test_wrong_fields_are_refused_before_training(tmp_path, digits, fields, message):
    with pytest.raises(ConfigError, match=message):
        train(tmp_path, config_for("scratch", **fields), digits)
    assert not os.path.exists(tmp_path / "checkpoints")


def test_more_labels_than_examples_are_refused(tmp_path, digits):
    with pytest.raises(ConfigError, match=r"more than the \d+ training examples"):
        train(tmp_path, config_for("scratch", classifier__num_labels=2000), digits)
