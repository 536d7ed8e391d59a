"""Early stopping: a validation part carved from the training split, evals watched on it, the run
stopped after `patience` evals without improvement, the best state kept and loaded, the test split
scored once at the end, and a killed run that resumes to the same stop bit-exactly."""

import json

import numpy as np
import pytest

import jaxae
from jaxae.data import sources
from jaxae.engine import loop
from jaxae.errors import CheckpointError, ConfigError
from helpers import assert_resumes_exactly, tiny, train


def stopping_config(**fields):
    """vae_mnist:tiny for 50 steps, evals every 5, on a validation tenth: with min_delta beyond any
    change, the first eval is the best and patience 2 stops the run at the third (step 15)."""
    config = tiny("vae_mnist", num_steps=50, eval_every=5, checkpoint_every=5)
    config.early_stopping.update(metric="neg_elbo", patience=2, min_delta=1e9, validation_fraction=0.1)
    for field, value in fields.items():
        config.early_stopping[field] = value
    return config


@pytest.fixture(scope="module")
def stopped(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("stopped") / "run"
    splits = tuple(sources.open_tfds("mnist_5k", split) for split in ("train", "test"))
    return workdir, train(workdir, stopping_config(), splits), splits


def records(workdir):
    with open(workdir / "metrics.jsonl") as lines:
        return [json.loads(line) for line in lines]


def test_the_run_stops_keeps_the_best_state_and_scores_the_test_split_once(stopped):
    workdir, result, _ = stopped
    assert result.step == 15
    written = records(workdir)
    validation_steps = [record["step"] for record in written if "validation/neg_elbo" in record]
    assert validation_steps == [5, 10, 15]
    assert [record["step"] for record in written if "eval/neg_elbo" in record] == [15]  # The test split, once.
    final = next(record for record in written if "train/stopped_early" in record)
    assert final["train/stopped_early"] == 1 and final["early_stopping/best_step"] == 5
    first = next(record for record in written if record["step"] == 5 and "validation/neg_elbo" in record)
    assert final["early_stopping/best_validation_neg_elbo"] == first["validation/neg_elbo"]
    best, last = jaxae.load(str(workdir)), jaxae.load(str(workdir), best=False)
    assert (best.step, last.step) == (5, 15)
    assert best.record["data"]["num_examples"] == 3600  # 4,000 digits less the validation tenth.
    codes = best.encode(sources.open_tfds("mnist_5k", "test").read(np.arange(8), ["image"])["image"])
    assert not np.allclose(codes, last.encode(sources.open_tfds("mnist_5k", "test").read(np.arange(8), ["image"])["image"]))


def test_the_validation_part_is_never_trained_on_and_tools_read_the_part_trained_on(stopped, tmp_path):
    from jaxae.data import splits
    from jaxae.tools import encode

    workdir, _, (train_split, _) = stopped
    part, validation = splits.carve(train_split, 0.1, 0)
    assert len(part) == 3600 and len(validation) == 400
    assert not set(part.indices) & set(validation.indices)
    out = tmp_path / "train.npz"
    assert encode.main(["--workdir", str(workdir), "--split", "train", "--out", str(out)]) == 0
    assert len(np.load(out)["codes"]) == 3600


def test_a_killed_run_resumes_to_the_same_stop_bit_exactly(stopped, tmp_path):
    workdir, result, splits = stopped
    killed = assert_resumes_exactly(tmp_path, workdir, result, stopping_config(), splits, keep_through=10)
    assert jaxae.load(str(killed)).step == 5


@pytest.mark.parametrize("fields, message", [
    (dict(metric="eval/neg_elbo"), "name the metric alone, e.g. 'neg_elbo'"),
    (dict(patience=0), "early_stopping.patience=0 must be >= 1"),
    (dict(validation_fraction=1.0), "early_stopping.validation_fraction=1.0 must be < 1"),
])
def test_bad_fields_are_refused_before_compute(fields, message):
    with pytest.raises(ConfigError, match=message):
        loop.train(stopping_config(**fields), "/nonexistent/never-made", None, None)


def test_an_unknown_metric_is_named_with_the_ones_there_are(stopped, tmp_path):
    _, _, splits = stopped  # The module's run's data and programs: nothing new to compile.
    with pytest.raises(ConfigError, match=r"early_stopping.metric='elbo' is not among the eval's metrics \[.*'neg_elbo'"):
        train(tmp_path / "run", stopping_config(metric="elbo"), splits)


def test_a_family_whose_evals_cannot_be_watched_and_a_changed_metric_on_resume_are_refused(stopped, tmp_path):
    from helpers import killed_copy

    clustering = tiny("dec_mnist")
    clustering.early_stopping.metric = "cluster_acc"
    with pytest.raises(ConfigError, match="trainer='dec' cannot stop early: its evals score the clusters only once"):
        loop.train(clustering, "/nonexistent/never-made", None, None)
    unread = tiny("vae_mnist")
    unread.early_stopping.patience = 3
    with pytest.raises(ConfigError, match="early_stopping.patience=3 is read only with early_stopping.metric set"):
        loop.train(unread, "/nonexistent/never-made", None, None)
    workdir, _, splits = stopped
    other = stopping_config(metric="mse")
    with pytest.raises(CheckpointError, match="watched early_stopping.metric='neg_elbo'"):
        train(killed_copy(tmp_path, workdir, 10), other, splits)
