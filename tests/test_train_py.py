"""train.py as a user runs it: the main command and a one-line error (two processes); the errors of its
flags, checked in-process."""

import os
import subprocess
import sys

import pytest

from helpers import TEST_COMPILE_CACHE


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def train_py(workdir, *overrides, config="configs/vae_mnist.py:tiny"):
    return [sys.executable, "train.py", f"--config={config}", f"--workdir={workdir}",
            f"--config.compile_cache_dir={TEST_COMPILE_CACHE}", *overrides]


def test_main_command_prints_where_results_are(tmp_path):
    environment = {**os.environ, "TFDS_DATA_DIR": str(tmp_path / "tfds")}  # A first run: the data set is prepared.
    done = subprocess.run(train_py(tmp_path / "run"), cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=environment)
    assert done.returncode == 0, done.stderr
    run = tmp_path / "run"
    assert "final eval: " in done.stdout and "eval/neg_elbo=" in done.stdout
    assert f"checkpoints: {run}/checkpoints" in done.stdout
    assert f"metrics:     {run}/metrics.jsonl" in done.stdout
    assert f"image:       {run}/images/samples_0000020.png" in done.stdout
    # Nothing but jaxae's own lines and its progress bar: none of tfds' 'Downloading and preparing
    # dataset Unknown size', progress bars or absl warnings about dataset_info.json (issue 27).
    lines = [line for line in done.stderr.replace("\r", "\n").splitlines() if line.strip() and "step/s]" not in line]
    assert lines == [f"jaxae: preparing the embedded data set 'mnist_5k' in {tmp_path}/tfds/mnist_5k/1.0.0 (once)"], lines


@pytest.mark.parametrize("override, message", [
    ("--config.model.name=mlp_gan", "model.name='mlp_gan' is unknown"),
    ("--config.data.name=not_a_dataset", "data.name='not_a_dataset' is not one of jaxae's own data sets"),
    ("--config.data.name=cifar10", "is not prepared in data.tfds_data_dir="),  # Not tfds' 'TFRECORD is not supported'.
    ("--config.batch_size=12", "batch_size=12 must be a positive multiple of the 8 devices"),
    ("--config=configs/vae_mnist.py:tine", "unknown variant 'tine'; the variants are '', 'tiny'"),
])
def test_bad_input_is_refused_in_one_line_before_compute(tmp_path, override, message):
    """What train.py does with its flags, in this process: the launcher's own printing of the error
    is the next test's."""
    from jaxae import run
    from jaxae.config.loading import config_from_command_line, split_overrides
    from jaxae.errors import JaxaeError, from_the_command_line

    argument = override.partition("=")[2] if override.startswith("--config=") else "configs/vae_mnist.py:tiny"
    _, overrides = split_overrides([] if override.startswith("--config=") else [override])
    with pytest.raises(JaxaeError) as refused:
        config = config_from_command_line(os.path.join(ROOT, argument), overrides)
        with from_the_command_line():
            run(config, str(tmp_path))
    assert message in str(refused.value) and len(str(refused.value).splitlines()) == 1
    assert not os.path.exists(tmp_path / "checkpoints")


def test_bad_input_is_one_line_on_stderr_and_exit_status_1(tmp_path):
    done = subprocess.run(train_py(tmp_path, "--config.model.nope=3"), cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jaxae: error: --config.model.nope: the config has no field "
                                                   "'model.nope'"), done.stderr
    assert not os.path.exists(tmp_path / "checkpoints")
