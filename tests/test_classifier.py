"""The classifier family (few labels) through the shared loop, on scikit-learn's digits: the
class-balanced draw, each mode's training, `jaxae.load` predictions, and configs refused before
training. (1 against 8 devices and resuming around the draw: tests/test_every_family.py.)"""

import os

import jax
import numpy as np
import pytest

import jaxae
from jaxae.data import host, sources
from jaxae.data.builders import every_fifth_is_test, load_sklearn_digits_arrays, split_masks
from jaxae.data.labels import balanced_draw
from jaxae.errors import ConfigError, DataError
from jaxae.runs.metric_writers import read_metrics
from helpers import tiny, train

NUM_LABELS = 50


@pytest.fixture(scope="module")
def digits():
    return tuple(sources.open_tfds("sklearn_digits", split) for split in ("train", "test"))


def config_for(mode, parallel_mode="jit", **fields):
    fields = dict(num_steps=8, log_every=4, checkpoint_every=4, eval_every=0, classifier__mode=mode,
                  classifier__num_labels=NUM_LABELS, pretrain__num_steps=8, parallel__mode=parallel_mode) | fields
    return tiny("few_labels_mnist", **fields)


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


# Which parts of the network the classifying phase moves, by mode.
MOVES = {"scratch": {"encoder": True, "decoder": False, "head": True},
         "frozen": {"encoder": False, "decoder": False, "head": True},
         "finetune": {"encoder": True, "decoder": False, "head": True},
         "regularised": {"encoder": True, "decoder": True, "head": True}}


@pytest.mark.parametrize("mode", list(MOVES))
def test_each_mode_draws_its_labels_trains_what_it_should_and_predicts_as_it_evaluates(tmp_path, digits, mode):
    pretrain_steps = 50 if mode in ("frozen", "finetune") else 0
    # The regularised run is a VAE in bfloat16: its objective is the negative ELBO, its logits cast to float32.
    variant = {"model__name": "vae", "compute_dtype": "bfloat16"} if mode == "regularised" else {}
    config = config_for(mode, num_steps=150, log_every=50, checkpoint_every=50, keep_checkpoints=10,
                        pretrain__num_steps=50, model__hidden=(64,), data__augment_shift=0, model__latent_dim=16,
                        classifier__optimizer__learning_rate=3e-3, **variant)
    result = train(tmp_path, config, digits)
    drawn = read_metrics(str(tmp_path))[0]
    phase = "pretrain" if pretrain_steps else "classify"
    assert drawn["step"] == 0 and drawn[f"{phase}/labelled"] == NUM_LABELS and drawn[f"{phase}/classes"] == 10
    assert result.step == pretrain_steps + 150
    # 50 labels of 8x8 digits, a few seconds of training: well above chance (0.1); a linear head
    # on fixed codes learns slowest.
    assert result.eval_metrics["eval/accuracy"] > (0.3 if mode == "frozen" else 0.5)
    if mode == "regularised":
        last = next(r for r in reversed(read_metrics(str(tmp_path))) if "train/loss" in r)
        assert last["train/autoencoder_loss"] > 0 and np.isfinite(last["train/loss"])

    # The labelled examples are the draw's, images with their own labels.
    train_images, train_labels = (host.read_all(digits[0], ["image", "label"])[name] for name in ("image", "label"))
    chosen = balanced_draw(train_labels, NUM_LABELS, seed=0, num_classes=10)
    labelled = jax.device_get(result.state.extra)
    np.testing.assert_array_equal(labelled["images"], train_images[chosen])
    np.testing.assert_array_equal(labelled["labels"], train_labels[chosen])

    # The classifying phase moved what the mode trains, and nothing else.
    before = jaxae.load(str(tmp_path), step=pretrain_steps).classifier_params
    final = jax.device_get(result.state.params)
    parts = {"encoder": lambda p: p["autoencoder"]["encoder"], "decoder": lambda p: p["autoencoder"]["decoder"],
             "head": lambda p: p["head"]}
    moved = {name: any(not np.array_equal(a, b) for a, b in zip(jax.tree.leaves(part(final)),
                                                                jax.tree.leaves(part(before))))
             for name, part in parts.items()}
    assert moved == MOVES[mode]

    test_images, test_labels = load_sklearn_digits_arrays()
    test = split_masks(test_labels, every_fifth_is_test)["test"]
    model = jaxae.load(str(tmp_path))
    np.testing.assert_allclose(model.predict_proba(test_images[test]).sum(axis=1), 1, rtol=1e-5)
    accuracy = np.mean(model.predict(test_images[test]) == test_labels[test])
    assert accuracy == pytest.approx(result.eval_metrics["eval/accuracy"], abs=1e-6)


def test_a_split_too_small_for_the_draw_is_refused_before_training(tmp_path, digits):
    with pytest.raises(DataError, match=r"class 10 has 0 examples.*classifier.num_classes=12"):
        train(tmp_path, config_for("finetune", classifier__num_classes=12), digits)
    assert not os.path.exists(tmp_path / "checkpoints" / "0")


@pytest.mark.parametrize(("fields", "message"), [
    ({"classifier__mode": "semi"}, "classifier.mode"),
    ({"classifier__mode": "frozen", "pretrain__num_steps": 0, "pretrain__num_epochs": 0}, "pretrains the autoencoder"),
    ({"classifier__num_labels": 5}, "classifier.num_labels"),
    ({"loss__eval_iw_samples": 10}, "importance weighting"),
    ({"compute_dtype": "float16"}, "float16"),
])
def test_wrong_fields_are_refused_before_training(tmp_path, digits, fields, message):
    with pytest.raises(ConfigError, match=message):
        train(tmp_path, config_for("scratch", **fields), digits)
    assert not os.path.exists(tmp_path / "checkpoints")


def test_more_labels_than_examples_are_refused(tmp_path, digits):
    with pytest.raises(ConfigError, match=r"more than the \d+ training examples"):
        train(tmp_path, config_for("scratch", classifier__num_labels=2000), digits)
