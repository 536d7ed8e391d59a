"""`num_seeds`: several seeds of a family in one program (DEC, whose hooks run seed by seed and
whose step is a `lax.cond`): seed 0 is the single-seed run, the seeds differ, evals report each
seed and mean +- std, and a killed run refuses another number of seeds. (Resuming, and 8 devices
against 1: tests/test_every_family.py, on the same run.)"""

import chex
import jax
import numpy as np
import pytest

import jaxae
from jaxae.errors import CheckpointError, ConfigError
from jaxae.runs.metric_writers import read_metrics
import cases
from helpers import killed_copy, tiny, train


def seeds_config(num_seeds=2, mode="jit"):
    """DEC's tiny run with `num_seeds` seeds, every optimizer on plain SGD."""
    return cases.config("dec_mnist-2-seeds", mode, num_seeds=num_seeds)


@pytest.fixture(scope="module")
def seeds_run():
    result = cases.trained("dec_mnist-2-seeds")
    return result.workdir, result


def test_seed_zero_is_the_single_seed_run_and_the_others_differ(tmp_path, digit_sources, seeds_run):
    _, result = seeds_run
    single = train(tmp_path, seeds_config(num_seeds=1), digit_sources)
    stacked, alone = jax.device_get(result.state), jax.device_get(single.state)
    assert stacked.step == alone.step == 22
    seed_zero = jax.tree.map(lambda leaf: leaf[0], stacked.replace(step=None)).replace(step=stacked.step)
    chex.assert_trees_all_close(seed_zero, alone, rtol=1e-4, atol=1e-5)  # vmap may reorder float sums.
    assert not np.allclose(stacked.params["centroids"][1], stacked.params["centroids"][0])
    assert not np.array_equal(stacked.key[1], stacked.key[0])
    assert result.eval_metrics["eval/cluster_acc/seed_0"] == pytest.approx(single.eval_metrics["eval/cluster_acc"],
                                                                            abs=2e-3)


def test_evals_report_each_seed_and_their_mean_and_std(seeds_run):
    workdir, result = seeds_run
    metrics = result.eval_metrics
    accuracies = [metrics[f"eval/cluster_acc/seed_{seed}"] for seed in range(2)]
    assert metrics["eval/cluster_acc"] == pytest.approx(np.mean(accuracies))
    assert metrics["eval/cluster_acc_std"] == pytest.approx(np.std(accuracies))
    records = read_metrics(str(workdir))
    assert {"train/kl/seed_0", "train/kl/seed_1"} <= set(next(r for r in records if "train/kl" in r))
    last = [r for r in records if "train/skipped" in r][-1]
    # DEC's converged seeds skip their steps (and have no loss to show): each seed's fraction, their mean.
    skipped = [last[f"train/skipped/seed_{seed}"] for seed in range(2)]
    assert set(skipped) <= {0.0, 1.0} and last["train/skipped"] == pytest.approx(np.mean(skipped))
    assert max(skipped) == 1.0  # A converged seed: its `lax.cond` (a select under vmap) took the no-op branch.
    # K-means ran for every seed at the phase start.
    start = next(r for r in records if "cluster/inertia" in r)
    assert start["step"] == 10 and {"cluster/inertia/seed_0", "cluster/inertia/seed_1"} <= set(start)
    assert start["cluster/inertia"] == pytest.approx(np.mean([start[f"cluster/inertia/seed_{s}"] for s in range(2)]))
    model = jaxae.load(str(workdir))  # Seed 0's model.
    np.testing.assert_allclose(model.centroids, jax.device_get(result.state.params["centroids"][0]))


def test_a_killed_run_refuses_to_resume_with_another_number_of_seeds(tmp_path, digit_sources, seeds_run):
    workdir, _ = seeds_run
    killed = killed_copy(tmp_path, workdir, 12)
    with pytest.raises(CheckpointError, match="num_seeds: checkpoint 2, this run 3"):
        train(killed, seeds_config(num_seeds=3), digit_sources)


def test_jule_seeds_merge_in_turn_and_keep_their_own_clusters(tmp_path, digit_sources):
    """JULE's hooks rebuild integer state (labels, counts) seed by seed; the seeds start from their
    own pretraining, so their clusterings differ."""
    config = tiny("jule_mnist", num_steps=4, log_every=2, checkpoint_every=2, eval_every=0, jule__update_interval=2,
                  jule__periods=2, num_seeds=2)
    result = train(tmp_path, config, digit_sources)
    extra = jax.device_get(result.state.extra)
    assert extra["labels"].shape == (2, 1442) and extra["num_clusters"].tolist() == [10, 10]
    assert not np.array_equal(extra["labels"][0], extra["labels"][1])
    assert {"eval/cluster_acc/seed_0", "eval/cluster_acc/seed_1", "eval/cluster_acc_std"} <= set(result.eval_metrics)


def test_num_seeds_must_be_a_positive_integer(tmp_path, digit_sources):
    with pytest.raises(ConfigError, match="num_seeds"):
        train(tmp_path, tiny("dec_mnist", num_seeds=0), digit_sources)


def test_window_means_leave_out_each_seeds_skipped_steps():
    """Two seeds over 4 steps; seed 0 skipped steps 2 and 3 (its metrics zeroed there). The wrapper
    reduces the names it made; the loop parses none."""
    import toy_family
    from jaxae.trainers.seeds import SeedsTrainer

    train_source, _ = toy_family.data()
    wrapper = SeedsTrainer(toy_family.ToyTrainer(toy_family.config(), train_source.spec, len(train_source)), 2)

    loss = np.array([[1.0, 2.0, 0.0, 0.0], [3.0, 4.0, 5.0, 6.0]])  # [seed, step]
    skipped = np.array([[0, 0, 1, 1], [0, 0, 0, 0]], float)
    sums = {"loss": loss.mean(0).sum(), "skipped": skipped.mean(0).sum()}
    for seed in range(2):
        sums |= {f"loss/seed_{seed}": loss[seed].sum(), f"skipped/seed_{seed}": skipped[seed].sum()}
    means = wrapper.window_means(sums, 4)
    assert means["loss/seed_0"] == 1.5 and means["loss/seed_1"] == 4.5
    assert means["skipped/seed_0"] == 0.5 and means["skipped"] == 0.25
    assert means["loss"] == pytest.approx((1 + 2 + 3 + 4 + 5 + 6) / 6)  # Over the kept (step, seed) pairs.
