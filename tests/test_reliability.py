"""Faults: SIGKILL at random moments, SIGTERM, non-finite losses, full and read-only disks,
mismatched workdirs, determinism, and no pickle anywhere."""

import os
import random
import re
import signal
import subprocess
import time

import chex
import jax
import numpy as np
import pytest

from jaxae.engine import loop
from jaxae.errors import NonFiniteLossError, WorkdirError
from helpers import (ROOT, load_params, metrics_without_timing, run, saved_steps, start,
                                 temporary_folders, tiny)

# Per-step dispatch and frequent saves: slow enough to be killed anywhere, saves often in flight.
FAULT_ARGS = ["--config.num_steps=300", "--config.log_every=10", "--config.checkpoint_every=10",
              "--config.eval_every=0", "--config.data.placement=stream", "--config.keep_checkpoints=3"]


def test_random_sigkills_then_resume_give_bit_identical_parameters(tmp_path):
    rng = random.Random(1234)
    killed, kills, deadline = tmp_path / "killed", 0, time.monotonic() + 240
    while kills < 3 and time.monotonic() < deadline:
        process = start(killed, *FAULT_ARGS)
        time.sleep(rng.uniform(2.0, 5.0))
        if process.poll() is not None:
            break  # It finished before this kill: the remaining checks still apply.
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        kills += 1
        for step in saved_steps(killed):  # Every finalized checkpoint is complete.
            assert os.path.exists(killed / "checkpoints" / str(step) / "state")
    assert kills >= 3, "too few kills landed before the run finished"
    finish = run(killed, *FAULT_ARGS)
    assert finish.returncode == 0, finish.stderr[-3000:]
    assert temporary_folders(killed) == []  # Folders of killed saves were cleaned on restart.
    straight = run(tmp_path / "straight", *FAULT_ARGS)
    assert straight.returncode == 0, straight.stderr[-3000:]
    a, b = load_params(killed, 300), load_params(tmp_path / "straight", 300)
    chex.assert_trees_all_equal(a, b)  # Bit for bit.
    assert metrics_without_timing(killed) == metrics_without_timing(tmp_path / "straight")


# A stop is asked for after the first save: a shorter run shows the same.
SIGTERM_ARGS = ["--config.num_steps=120", *FAULT_ARGS[1:]]


def test_sigterm_saves_exits_143_and_resumes(tmp_path):
    workdir = tmp_path / "run"
    process = start(workdir, *SIGTERM_ARGS)
    deadline = time.monotonic() + 120
    while not saved_steps(workdir) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 143, err[-3000:]
    stopped = int(re.search(r"stopped by SIGTERM after saving step (\d+)", out).group(1))
    assert stopped % 10 == 0 and stopped < 120 and stopped in saved_steps(workdir)
    resumed = run(workdir, *SIGTERM_ARGS)
    assert resumed.returncode == 0 and f"resuming from step {stopped}" in resumed.stdout
    run(tmp_path / "straight", *SIGTERM_ARGS)
    assert metrics_without_timing(workdir) == metrics_without_timing(tmp_path / "straight")


def test_non_finite_loss_stops_naming_step_and_last_good_checkpoint(tmp_path):
    # Plain SGD at this rate diverges after the first checkpoint (step 5) on this data and seed.
    config = tiny(optimizer__name="sgd", optimizer__learning_rate=0.014, checkpoint_every=5)
    with pytest.raises(NonFiniteLossError) as error:
        loop.run(config, str(tmp_path))
    message = str(error.value)
    assert re.search(r"train/(loss|grad_norm)=(nan|inf) in steps \d+-\d+; ", message)
    named = re.search(r"nothing after step (\d+) was saved", message)
    if named is None:  # Diverged in the first window: nothing at all may have been saved.
        assert "no checkpoint had been saved" in message and saved_steps(tmp_path) == []
        return
    last = int(named.group(1))
    assert saved_steps(tmp_path)[-1] == last
    for step in saved_steps(tmp_path):
        params = load_params(tmp_path, step)
        assert all(np.isfinite(leaf).all() for leaf in jax.tree.leaves(params))


def test_non_finite_updates_can_be_skipped_and_counted(tmp_path):
    config = tiny(optimizer__name="sgd", optimizer__learning_rate=0.05, nonfinite="skip")  # Diverges at once.
    result = loop.run(config, str(tmp_path))
    assert all(np.isfinite(leaf).all() for leaf in jax.tree.leaves(jax.device_get(result.state.params)))
    records = [r for r in metrics_without_timing(tmp_path) if "train/skipped" in r]
    assert any(r["train/skipped"] > 0 for r in records)
    # A window with kept steps has their finite mean; one whose steps were all skipped has no mean.
    assert all(np.isfinite(r["train/loss"]) if r["train/skipped"] < 1 else "train/loss" not in r for r in records)


def test_same_seed_twice_gives_identical_runs(tmp_path):
    first = loop.run(tiny(), str(tmp_path / "a"))
    second = loop.run(tiny(), str(tmp_path / "b"))
    chex.assert_trees_all_equal(jax.device_get(first.state.params), jax.device_get(second.state.params))
    assert metrics_without_timing(tmp_path / "a") == metrics_without_timing(tmp_path / "b")


def test_mismatch_can_start_fresh_in_a_sibling_workdir(tmp_path):
    """What train.py runs for its flags, in this process (tests/test_train_py.py starts the launcher)."""
    from jaxae.errors import CheckpointError, from_the_command_line

    def train_py(on_mismatch="fail"):
        with from_the_command_line():  # Errors in train.py's words, not the Python API's.
            return loop.run(tiny(model__latent_dim=6), str(tmp_path / "run"), on_mismatch=on_mismatch)

    loop.run(tiny(), str(tmp_path / "run"))
    with pytest.raises(CheckpointError, match="use another --workdir, or --on_checkpoint_mismatch=new_workdir"):
        train_py()
    before = sorted((p, os.path.getmtime(p)) for p in (tmp_path / "run").rglob("*"))
    assert train_py("new_workdir").checkpoint_dir == f"{tmp_path}/run-2/checkpoints"
    assert sorted((p, os.path.getmtime(p)) for p in (tmp_path / "run").rglob("*")) == before
    again = train_py("new_workdir")
    assert again.checkpoint_dir == f"{tmp_path}/run-2/checkpoints" and again.step == 20  # Resumed the sibling.


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs, or a skip where this machine cannot mount one."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def snapshot(directory):
    return {str(p): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_full_disk_fails_clearly_and_keeps_earlier_checkpoints(small_disk):
    workdir = small_disk / "run"
    loop.run(tiny(num_steps=10), str(workdir))
    kept = snapshot(workdir / "checkpoints")
    statvfs = os.statvfs(small_disk)
    with open(small_disk / "filler", "wb") as filler:  # Leave a few KiB free.
        filler.write(b"\0" * max(statvfs.f_bavail * statvfs.f_frsize - 8 * 1024, 0))
    with pytest.raises(WorkdirError, match="No space left on device") as error:
        loop.run(tiny(num_steps=20), str(workdir))
    assert re.search(r"could not write .*/run/\S+: .*are intact: steps \[10", str(error.value)), str(error.value)
    os.remove(small_disk / "filler")
    assert {k: v for k, v in snapshot(workdir / "checkpoints").items() if k in kept} == kept
    assert 10 in saved_steps(workdir)
    params = load_params(workdir, 10)
    assert all(np.isfinite(leaf).all() for leaf in jax.tree.leaves(params))


def test_read_only_workdir_fails_before_compute_and_keeps_checkpoints(small_disk):
    workdir = small_disk / "run"
    loop.run(tiny(num_steps=10), str(workdir))
    kept = snapshot(workdir / "checkpoints")
    assert subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], capture_output=True).returncode == 0
    done = run(workdir, "--config.num_steps=20")
    assert done.returncode == 1
    assert "is not writable" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert snapshot(workdir / "checkpoints") == kept


def test_nothing_in_the_package_uses_pickle():
    package = os.path.join(ROOT, "jaxae")
    offenders = []
    for folder, _, files in os.walk(package):
        for name in files:
            if name.endswith(".py"):
                text = open(os.path.join(folder, name)).read()
                if re.search(r"^\s*(import|from)\s+(pickle|cloudpickle|dill)\b|allow_pickle\s*=\s*True", text, re.M):
                    offenders.append(name)
    assert offenders == []
