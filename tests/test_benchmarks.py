"""The benchmark in its smoke mode: it runs and reports sane numbers (timings themselves are not tested)."""

import pytest

from benchmarks import vae_step


def test_vae_step_benchmark_smoke(tmp_path):
    report = vae_step.main(["--smoke", "--out", str(tmp_path / "bench.json")])
    assert report["matmul_f32_gflops"] > 0
    (row,) = report["rows"]
    assert row["batch_size"] == 32
    # The tiny VAE's step: forward and backward through 784-32-8 and 4-32-784 dense layers.
    assert 1e5 < row["flops_per_example"] < 1e6
    assert row["scan_examples_per_sec"] > 0 and row["per_step_examples_per_sec"] > 0
    assert (tmp_path / "bench.json").exists()


def test_device_scaling_benchmark_smoke():
    from benchmarks import device_scaling

    report = device_scaling.main(["--smoke", "--devices", "1,2"])
    assert {(row["devices"], row["mode"]) for row in report["rows"]} == {(1, "jit"), (1, "pmap"), (2, "jit"), (2, "pmap")}
    assert all(row["examples_per_sec"] > 0 for row in report["rows"])


def test_performance_suite_smoke():
    from benchmarks import suite

    report = suite.main(["--smoke"])
    assert report["examples_per_sec"]["jaxae_train_py"] > 0 and report["examples_per_sec"]["jaxae_bare_scan"] > 0
    assert 0 < report["startup"]["first_step_warm_s"] < report["startup"]["run_wall_warm_s"]
    # One train.py process's own peak in MB (~500 on this CPU), not the suite's pages counted with it.
    assert 100 < report["startup"]["peak_rss_mb"] < 1500
    row = report["roofline_batch128"]
    assert row["flops_per_step"] > 1e8 and row["bytes_per_step"] > 1e6 and row["roofline_ms"] > 0
    assert report["streaming_over_device_resident"] > 0


def test_gan_step_benchmark_trains_both_players():
    import jax
    import numpy as np

    from benchmarks import gan_step

    state = gan_step.initial_state()
    images = gan_step.real_images()
    assert images.shape == (4000, 28, 28, 1) and images.dtype == np.uint8
    steps = gan_step.JaxGanSteps(state, images, steps=2)
    loss = steps.run(2)
    assert np.isfinite(loss)
    trained = jax.device_get(steps.carry[0])
    assert int(trained.step) == 2
    for player in ("generator", "discriminator"):
        moved = jax.tree.map(lambda a, b: bool(np.any(a != b)), trained.params[player], state.params[player])
        assert all(jax.tree.leaves(moved)), player


def test_gan_step_models_equal_pytorch_peers():
    pytest.importorskip("torch")  # The bench extra; CI's install has no PyTorch.
    from benchmarks import gan_step

    gaps = gan_step.largest_differences(gan_step.initial_state(), gan_step.real_images())
    assert max(gaps) < 1e-4, gaps
