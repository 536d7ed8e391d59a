"""What broke when the project was tried as a new user would: each now ends in one clear line
(or a warning and a correct resume), and never loses a checkpoint."""

import os
import re
import shutil
import signal
import time

import chex
import jax
import numpy as np
import pytest

from jaxae.config.loading import config_from_command_line
from jaxae.config.validation import validate_config
from jaxae.data import sources
from jaxae.devices import distributed
from jaxae.devices.compile_cache import enable_compile_cache
from jaxae.devices.distributed import DistributedError
from jaxae.engine import loop
from jaxae.errors import CheckpointError, ConfigError, DataError, NonFiniteLossError, WorkdirError
from jaxae.runs.metric_writers import read_metrics
from helpers import metrics_without_timing, run, saved_steps, start, tiny


def one_line_error(done, message):
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jaxae: error: ") and message in lines[0], done.stderr[-2000:]


def raises_one_line(error_type, message, call, *args, **kwargs):
    with pytest.raises(error_type) as error:
        call(*args, **kwargs)
    assert message in str(error.value) and "\n" not in str(error.value), str(error.value)


CONFIG_FILES = {"syntax.py": "def get_config(:\n", "nothing.py": "X = 1\n",
                "plain_dict.py": "def get_config():\n    return {'seed': 0}\n"}


@pytest.mark.parametrize("config, overrides, message", [
    ("configs/vae_mnist.py:tiny", [("model.nope", "3")],
     "--config.model.nope: the config has no field 'model.nope'; model has activation, "),
    ("configs/vae_mnist.py:tiny", [("batch_size", "big")], "--config.batch_size=big: batch_size is an integer"),
    ("configs/vae_mnist.py:tiny", [("model", "3")], "--config.model names a section"),
    ("configs/vae_mnist.py:tine", [], "get_config('tine') failed: ValueError: unknown variant 'tine'; the variants are '', 'tiny'"),
    ("configs/no_such_config.py", [], "no config file"),
    ("{tmp}/syntax.py", [], "syntax.py:1: syntax error"),
    ("{tmp}/nothing.py", [], "defines no get_config()"),
    ("{tmp}/plain_dict.py", [], "must return an ml_collections.ConfigDict; it returned dict"),
])
def test_config_mistakes_are_one_line(tmp_path, config, overrides, message):
    """(train.py prints these as `jaxae: error: <message>`: tests/test_train_py.py runs it.)"""
    for name, text in CONFIG_FILES.items():
        (tmp_path / name).write_text(text)
    raises_one_line(ConfigError, message, config_from_command_line, config.replace("{tmp}", str(tmp_path)), overrides)


def test_overrides_take_the_fields_types():
    config = config_from_command_line("configs/vae_mnist.py:tiny", [
        ("model.hidden", "(64, 32)"), ("optimizer.learning_rate", "3e-4"), ("seed", "7"), ("data.name", "sklearn_digits"),
        ("log_every", "2"), ("checkpoint_every", "4")])
    assert config.model.hidden == (64, 32) and config.optimizer.learning_rate == 3e-4 and config.seed == 7
    assert config.data.name == "sklearn_digits" and config.is_locked


@pytest.mark.parametrize("field, value", [("optimizer.b1", 1.0), ("optimizer.b2", -0.1), ("optimizer.eps", 0.0),
                                          ("optimizer.weight_decay", -1e-4), ("optimizer.momentum", 1.0)])
def test_every_optimizer_hyperparameter_is_range_checked(field, value):
    with pytest.raises(ConfigError, match=re.escape(f"{field}={value!r} must be")):
        validate_config(tiny(**{field.replace(".", "__"): value}))


@pytest.mark.parametrize("field, value, message", [
    ("batch_size", 12, "batch_size=12 must be a positive multiple of the 8 devices"),
    ("trainer", "wgan", "trainer='wgan' is unknown; choose one of"),
    ("checkpoint_every", 7, "checkpoint_every=7 must be a multiple of log_every=5"),
    ("optimizer__b2", 1.5, "optimizer.b2=1.5 must be < 1"),
])
def test_loop_train_validates_as_train_py_does(tmp_path, field, value, message):
    arrays = sources.ArraySource.from_images(np.zeros((64, 8, 8, 1), np.uint8))
    raises_one_line(ConfigError, message, loop.train, tiny(**{field: value}), str(tmp_path / "own"), arrays, arrays)
    raises_one_line(ConfigError, message, loop.run, tiny(**{field: value}), str(tmp_path / "cli"))  # What train.py runs.
    assert not os.listdir(tmp_path)


def test_sizes_that_cannot_fit_are_refused_before_allocation(tmp_path):
    with pytest.raises(ConfigError, match=r"the train state needs about [\d.]+ GiB per device \(parameters [\d.]+ GiB"):
        loop.run(tiny(model__hidden=(1_000_000, 1_000_000)), str(tmp_path))
    assert not (tmp_path / "checkpoints").exists()


def test_unwritable_places_are_one_line_errors(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    raises_one_line(ConfigError, "the compile cache", enable_compile_cache, f"{blocker}/cache")
    raises_one_line(DataError, "is not writable, so 'mnist_5k' cannot be prepared", loop.run,
                    tiny(data__tfds_data_dir=f"{blocker}/tfds"), str(tmp_path / "b"))
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "images").write_text("not a folder")
    raises_one_line(ConfigError, "images' is in the way: jaxae writes a folder there", loop.run, tiny(), str(tmp_path / "c"))
    raises_one_line(DistributedError, "--distributed=auto found no cluster to join", distributed.initialize,
                    coordinator_address=None, num_processes=None, process_id=None, auto=True)


def test_a_damaged_metrics_line_is_one_line_and_keeps_the_checkpoints(tmp_path):
    loop.run(tiny(num_steps=10), str(tmp_path))
    path = tmp_path / "metrics.jsonl"
    lines = path.read_text().splitlines()
    lines[1] = lines[1][:-5]
    path.write_text("\n".join(lines) + "\n")
    raises_one_line(WorkdirError, "metrics.jsonl line 2 is damaged", loop.run, tiny(num_steps=20), str(tmp_path))
    assert saved_steps(tmp_path) == [10]


def checkpoint_file(workdir, step, part):
    folder = workdir / "checkpoints" / str(step) / part
    return max((p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)


@pytest.fixture(scope="module")
def finished_tiny(tmp_path_factory):
    """(workdir, result) of one finished tiny run, copied by the tests that damage it."""
    workdir = tmp_path_factory.mktemp("finished")
    return workdir, loop.run(tiny(), str(workdir))


@pytest.mark.parametrize("damage", ["truncate arrays", "delete arrays", "garble metadata"])
def test_a_damaged_latest_checkpoint_falls_back_to_the_newest_intact_one(tmp_path, capfd, finished_tiny, damage):
    straight, result = finished_tiny
    workdir = tmp_path / "damaged"
    shutil.copytree(straight, workdir)
    if damage == "truncate arrays":
        victim = checkpoint_file(workdir, 20, "state")
        victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    elif damage == "delete arrays":
        shutil.rmtree(workdir / "checkpoints" / "20" / "state")
    else:
        checkpoint_file(workdir, 20, "meta").write_text("{not json")
    capfd.readouterr()
    resumed = loop.run(tiny(), str(workdir))
    warning = [line for line in capfd.readouterr().err.splitlines() if line.startswith("jaxae: warning:")]
    assert len(warning) == 1 and "checkpoint step 20" in warning[0] and "resumed from step 10" in warning[0], warning
    assert os.listdir(f"{workdir}/checkpoints-unreadable")  # Moved aside, not deleted.
    chex.assert_trees_all_equal(jax.device_get(resumed.state.params), jax.device_get(result.state.params))
    assert metrics_without_timing(workdir) == metrics_without_timing(straight)


def test_no_readable_checkpoint_is_refused_naming_the_steps(tmp_path):
    loop.run(tiny(num_steps=10), str(tmp_path))
    checkpoint_file(tmp_path, 10, "meta").write_text("{")
    with pytest.raises(CheckpointError, match=r"no checkpoint in \S+ can be read: step 10: its metadata cannot be read"):
        loop.run(tiny(num_steps=10), str(tmp_path))
    assert saved_steps(tmp_path) == [10]


def wait_for_checkpoint(workdir, process, deadline_s=120):
    deadline = time.monotonic() + deadline_s
    while not saved_steps(workdir) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert saved_steps(workdir), process.communicate()[1][-2000:]


LONG = ["--config.num_steps=2000", "--config.log_every=10", "--config.checkpoint_every=10", "--config.eval_every=0",
        "--config.data.placement=stream"]


def test_a_second_run_on_a_workdir_refuses_and_a_killed_one_leaves_no_lock(tmp_path):
    first = start(tmp_path, *LONG)
    try:
        wait_for_checkpoint(tmp_path, first)
        second = run(tmp_path, *LONG)
        one_line_error(second, f"workdir '{tmp_path}' is in use by another run (pid {first.pid} on ")
    finally:
        first.kill()
        first.wait()
    last = saved_steps(tmp_path)[-1]
    done = run(tmp_path, *LONG, f"--config.num_steps={last}")  # Resumes at its end: no more training.
    assert done.returncode == 0 and f"resuming from step {last} of {last}" in done.stdout, done.stderr[-2000:]


def test_ctrl_c_saves_and_exits_130(tmp_path):
    process = start(tmp_path, *LONG)
    wait_for_checkpoint(tmp_path, process)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err[-2000:]
    stopped = int(re.search(r"stopped by SIGINT after saving step (\d+)", out).group(1))
    assert stopped in saved_steps(tmp_path) and stopped % 10 == 0


def test_skipped_steps_record_no_zeros_and_a_non_finite_final_eval_fails(tmp_path, caplog):
    # One huge SGD step makes the parameters enormous but finite; every later loss overflows and is
    # skipped, and the final eval is non-finite.
    config = tiny(optimizer__name="sgd", optimizer__learning_rate=1e30, nonfinite="skip")
    with pytest.raises(NonFiniteLossError, match=r"the final eval is not finite \(eval/\w+=(nan|inf)"):
        loop.run(config, str(tmp_path))
    # The error says it once: TensorBoard gets no non-finite scalar, so tensorboardX warns of none.
    assert not [record for record in caplog.records if "NaN or Inf" in record.getMessage()]
    assert saved_steps(tmp_path)[-1] == 20  # The final checkpoint came first.
    windows = [r for r in read_metrics(str(tmp_path)) if "train/skipped" in r]
    all_skipped = [r for r in windows if r["train/skipped"] == 1.0]
    assert all_skipped and all("train/loss" not in r and "train/recon" not in r for r in all_skipped)
