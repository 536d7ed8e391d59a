"""Two processes on 127.0.0.1 (coordinator bound to loopback, every wait bounded): data-parallel
training, checkpoint, restore in a new pair, and the errors of a run whose peers do not meet."""

import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from compile_flags import CHEAP_COMPILES
from helpers import TEST_COMPILE_CACHE

from jaxae.devices import distributed
from jaxae.runs.metric_writers import read_metrics

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = 240


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def command(workdir, *extra):
    return [sys.executable, "train.py", "--config=configs/vae_mnist.py:tiny", f"--workdir={workdir}",
            f"--config.compile_cache_dir={TEST_COMPILE_CACHE}", *extra]


def env(devices: int):
    # XLA's CPU back end as in conftest: these runs, too, mostly compile.
    return {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}" + CHEAP_COMPILES}


def run_pair(workdir, *extra, timeout_s=30):
    port = free_port()
    processes = [subprocess.Popen(command(workdir, f"--coordinator_address=127.0.0.1:{port}", "--num_processes=2",
                                          f"--process_id={i}", f"--distributed_timeout={timeout_s}", *extra),
                                  cwd=ROOT, env=env(2), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for i in (0, 1)]
    try:
        outputs = [p.communicate(timeout=TIMEOUT) for p in processes]
    finally:
        for p in processes:
            p.kill()
    return [(p.returncode, out, err) for p, (out, err) in zip(processes, outputs)]


def strip(records):
    return [{k: v for k, v in r.items() if k != "train/examples_per_sec"} for r in records]


def test_two_processes_train_checkpoint_resume_and_match_one_process(tmp_path):
    first = run_pair(tmp_path / "pair", "--config.num_steps=10")
    assert [code for code, _, _ in first] == [0, 0], first[0][2][-2000:] + first[1][2][-2000:]
    assert "final eval" in first[0][1] and "final eval" not in first[1][1]  # Only process 0 reports.
    second = run_pair(tmp_path / "pair", "--config.num_steps=20")
    assert [code for code, _, _ in second] == [0, 0], second[0][2][-2000:]
    assert "resuming from step 10" in second[0][1]

    alone = subprocess.run(command(tmp_path / "alone", "--config.num_steps=20"), cwd=ROOT, env=env(4),
                           capture_output=True, text=True, timeout=TIMEOUT)
    assert alone.returncode == 0, alone.stderr[-2000:]
    pair, single = strip(read_metrics(str(tmp_path / "pair"))), strip(read_metrics(str(tmp_path / "alone")))
    assert [r["step"] for r in pair] == [r["step"] for r in single]
    for a, b in zip(pair, single):
        assert a.keys() == b.keys()
        for key in a:
            # The Frechet distance and the diversity subtract float32 sums of feature outer products
            # (jaxae/metrics/frechet.py): where two processes add the batch's parts in another order, their
            # rounding shows at ~1e-5 of the distance; every other metric agrees to 1e-5.
            rel = 1e-3 if key in ("eval/frechet", "eval/diversity") else 1e-5
            assert a[key] == pytest.approx(b[key], rel=rel), (a["step"], key)


def test_sigterm_to_one_process_stops_every_process_after_the_same_step(tmp_path):
    port = free_port()
    args = ["--config.num_steps=2000", "--config.log_every=10", "--config.checkpoint_every=50", "--config.eval_every=0",
            "--config.data.placement=stream", f"--coordinator_address=127.0.0.1:{port}", "--num_processes=2",
            "--distributed_timeout=30"]
    processes = [subprocess.Popen(command(tmp_path, *args, f"--process_id={i}"), cwd=ROOT, env=env(2),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in (0, 1)]
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any(
                n.isdigit() for n in (os.listdir(tmp_path / "checkpoints") if (tmp_path / "checkpoints").exists() else [])):
            time.sleep(0.05)
        processes[1].send_signal(signal.SIGTERM)  # Only one process hears it, as with a single-host preemption.
        outputs = [p.communicate(timeout=TIMEOUT) for p in processes]
    finally:
        for p in processes:
            p.kill()
    assert [p.returncode for p in processes] == [143, 143], outputs[0][1][-2000:] + outputs[1][1][-2000:]
    steps = [int(re.search(r"stopped by SIGTERM after saving step (\d+)", out).group(1)) for out, _ in outputs]
    assert steps[0] == steps[1] < 2000 and steps[0] % 10 == 0
    assert steps[0] in [int(n) for n in os.listdir(tmp_path / "checkpoints") if n.isdigit()]


def test_batch_that_does_not_divide_over_processes_fails_in_both(tmp_path):
    results = run_pair(tmp_path, "--config.batch_size=34")
    for code, out, err in results:
        assert code == 1
        assert "batch_size=34 must be a positive multiple of the 4 devices (2 processes)" in err


def test_unreachable_coordinator_is_reported_within_the_timeout(tmp_path):
    started = time.monotonic()
    done = subprocess.run(command(tmp_path, f"--coordinator_address=127.0.0.1:{free_port()}", "--num_processes=2",
                                  "--process_id=1", "--distributed_timeout=3"),
                          cwd=ROOT, env=env(1), capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "did not answer within 3 s" in done.stderr
    assert time.monotonic() - started < 30


def test_missing_peer_is_reported_not_aborted(tmp_path):
    done = subprocess.run(command(tmp_path, f"--coordinator_address=127.0.0.1:{free_port()}", "--num_processes=2",
                                  "--process_id=0", "--distributed_timeout=4"),
                          cwd=ROOT, env=env(1), capture_output=True, text=True, timeout=90)
    assert done.returncode == 1  # Not -6 (SIGABRT).
    assert "one never arrived" in done.stdout


@pytest.mark.parametrize("kwargs, message", [
    (dict(coordinator_address=None, num_processes=2, process_id=None), "needs --coordinator_address"),
    (dict(coordinator_address="nohost", num_processes=2, process_id=0), "must be HOST:PORT"),
    (dict(coordinator_address="127.0.0.1:1", num_processes=2, process_id=2), r"--process_id=2 must lie in \[0, 2\)"),
    (dict(coordinator_address="127.0.0.1:1", num_processes=0, process_id=0), "--num_processes=0 must be a positive"),
])
def test_bad_distributed_flags(kwargs, message):
    with pytest.raises(distributed.DistributedError, match=message):
        distributed.initialize(timeout_s=5, **kwargs)
