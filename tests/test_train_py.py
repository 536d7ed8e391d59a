"""train.py as a user runs it: the main command, one-line errors, and SIGKILL then resume."""

import os
import signal
import subprocess
import sys
import time

import pytest

from jaxae.metric_writers import read_metrics

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def train_py(workdir, *overrides, config="configs/vae_mnist.py:tiny"):
    return [sys.executable, "train.py", f"--config={config}", f"--workdir={workdir}",
            "--config.compile_cache_dir=none", *overrides]


def test_main_command_prints_where_results_are(tmp_path):
    done = subprocess.run(train_py(tmp_path), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "final eval: " in done.stdout and "eval/neg_elbo=" in done.stdout
    assert f"checkpoints: {tmp_path}/checkpoints" in done.stdout
    assert f"metrics:     {tmp_path}/metrics.jsonl" in done.stdout
    assert f"image:       {tmp_path}/images/samples_0000020.png" in done.stdout


@pytest.mark.parametrize("override, message", [
    ("--config.model.name=mlp_gan", "model.name='mlp_gan' is unknown"),
    ("--config.data.name=not_a_dataset", "data.name='not_a_dataset' is not an embedded data set"),
    ("--config.batch_size=12", "batch_size=12 must be a positive multiple of the 8 devices"),
])
def test_bad_input_is_one_line_on_stderr(tmp_path, override, message):
    done = subprocess.run(train_py(tmp_path, override), cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jaxae: error: ") and message in lines[0], done.stderr
    assert not os.path.exists(tmp_path / "checkpoints")


def test_sigkill_between_checkpoints_then_resume_matches_uninterrupted_run(tmp_path):
    # Per-step dispatch (streaming) keeps the run slow enough to be killed mid-way.
    args = ["--config.num_steps=600", "--config.log_every=10", "--config.checkpoint_every=100",
            "--config.eval_every=0", "--config.data.placement=stream", "--config.keep_checkpoints=20"]
    killed = tmp_path / "killed"
    process = subprocess.Popen(train_py(killed, *args), cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        ckpt = killed / "checkpoints"
        if ckpt.exists() and any(name.isdigit() and int(name) >= 200 for name in os.listdir(ckpt)):
            break
        time.sleep(0.01)
    time.sleep(0.05)  # Land between two checkpoints, not on one.
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL, "the run finished before it could be killed"
    saved = sorted(int(n) for n in os.listdir(killed / "checkpoints") if n.isdigit())
    assert saved and saved[-1] < 600

    resumed = subprocess.run(train_py(killed, *args), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming from step {saved[-1]}" in resumed.stdout
    straight = subprocess.run(train_py(tmp_path / "straight", *args), cwd=ROOT, capture_output=True, text=True,
                              timeout=300)
    assert straight.returncode == 0, straight.stderr
    strip = lambda records: [{k: v for k, v in r.items() if k != "train/examples_per_sec"} for r in records]
    resumed_records = strip(read_metrics(str(killed)))
    assert resumed_records == strip(read_metrics(str(tmp_path / "straight")))
