"""The Trainer contract through the shared loop, with a test-only family (tests/toy_family.py):
two phases, hooks from the whole split, integer inputs, a matrix of eval sums; resume is
bit-exact across phases and hooks; 1 and 8 devices, jit and pmap, agree."""

import os
import types

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import toy_family
from helpers import killed_copy, metrics_without_timing
from jaxae.devices import parallel
from jaxae.engine import loop
from jaxae.engine.events import EventPlan
from jaxae.errors import ConfigError
from jaxae.runs.metric_writers import read_metrics
from jaxae.trainers import Phase


def train(workdir, config=None, mesh=None):
    train_source, eval_source = toy_family.data()
    return loop.train(config or toy_family.config(), str(workdir), train_source, eval_source, mesh or parallel.make_mesh(1))


def test_events_fall_on_absolute_steps():
    step = lambda state, batch: (state, {})
    hook = lambda state, split: (state, {})
    plan = EventPlan([Phase("a", 5, step, on_start=hook), Phase("empty", 0, step), Phase("b", 7, step, on_start=hook,
                                                                                       refresh=hook, refresh_every=3)],
                     log_every=4, eval_every=0, checkpoint_every=8)
    assert plan.end == 12 and [p.name for p in plan.phases] == ["a", "b"]  # Empty phases are dropped.
    assert [(h.phase, h.kind) for h in plan.hooks_at(0)] == [("a", "start")]
    assert [(h.phase, h.kind) for h in plan.hooks_at(5)] == [("b", "start")]
    assert [s for s in range(13) if plan.hooks_at(s)] == [0, 5, 8, 11]  # Refreshes at 5 + 3k inside the phase.
    stops, s = [], 0
    while s < plan.end:
        s = plan.next_stop(s)
        stops.append(s)
    assert stops == [4, 5, 8, 11, 12]
    assert [s for s in stops if plan.closes_window(s)] == stops  # Phase ends and hooks close windows.
    assert [s for s in stops if plan.checkpoints(s)] == [5, 8]  # Periodic, and after start hooks (not refreshes).
    assert plan.phase_at(4).name == "a" and plan.phase_at(5).name == "b"
    # A phase of 0 steps with a start hook is the hook alone, where the phases before it end (the
    # final save after it is the loop's); alone, it makes a run of 0 steps.
    alone = Phase("alone", 0, None, on_start=hook)
    plan = EventPlan([Phase("a", 5, step), alone], log_every=4, eval_every=0, checkpoint_every=8)
    assert plan.end == 5 and [(h.phase, h.kind) for h in plan.hooks_at(5)] == [("alone", "start")]
    assert plan.next_stop(4) == 5 and plan.closes_window(5) and not plan.checkpoints(5)
    plan = EventPlan([Phase("a", 0, step), alone], log_every=4, eval_every=0, checkpoint_every=8)
    assert plan.end == 0 and [h.phase for h in plan.hooks_at(0)] == ["alone"]
    with pytest.raises(ConfigError, match="every phase of this run has 0 steps"):
        EventPlan([Phase("a", 0, step)], log_every=4, eval_every=0, checkpoint_every=8)


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """(workdir, result) of one uninterrupted run, shared by the tests below."""
    workdir = tmp_path_factory.mktemp("straight")
    return workdir, train(workdir)


def test_two_phases_hooks_and_a_matrix_report_run_through_the_loop(straight):
    workdir, result = straight
    assert result.step == 20
    records = read_metrics(str(workdir))
    hooks = [(r["step"], name) for r in records for name in r if name.startswith("cluster/")]
    assert hooks == [(10, "cluster/spread"), (14, "cluster/spread"), (18, "cluster/spread")]
    assert [r["step"] for r in records if "eval/purity" in r] == [6, 12, 18, 20]
    assert result.eval_metrics["eval/count"] == 40  # The matrix sums every eval example once.
    assert 0.3 < result.eval_metrics["eval/purity"] <= 1
    saved = sorted(int(n) for n in os.listdir(workdir / "checkpoints") if n.isdigit())
    assert set(saved) == {4, 8, 10, 12, 16, 20}  # Periodic, and after the start hook (10), not refreshes.
    state = jax.device_get(result.state)
    assert np.abs(state.extra["centroids"]).sum() > 0 and state.extra["counts"].sum() == pytest.approx(10)
    # The embed phase fitted its targets; its windows hold only its own metric.
    embed = [r["train/loss"] for r in records if "train/loss" in r and r["step"] <= 10]
    assert embed[-1] < 0.5 * embed[0]


@pytest.mark.parametrize("keep_through", [8, 10, 14])
def test_resume_is_bit_exact_across_phases_and_hooks(tmp_path, straight, keep_through):
    """Killed after saving step 8 (before the phase's hook at 10, or after the hook ran but before
    its save landed: the resumed run redoes it), right after saving 10 (the hook's result saved:
    not redone) or after the refresh of step 14 (not saved: resumed from 12, the refresh is
    replayed), the run continues exactly as the uninterrupted run."""
    workdir, result = straight
    killed = killed_copy(tmp_path, workdir, keep_through)
    resumed = train(killed)
    chex.assert_trees_all_equal(jax.device_get(resumed.state), jax.device_get(result.state))
    assert metrics_without_timing(killed) == metrics_without_timing(workdir)


@pytest.mark.parametrize("mode", ["jit", "pmap"])
def test_eight_devices_match_one(tmp_path, straight, mode):
    _, one = straight
    config = toy_family.config()
    config.parallel.mode = mode
    eight = train(tmp_path / "eight", config, parallel.make_mesh(8))
    chex.assert_trees_all_close(jax.device_get(one.state.params), jax.device_get(eight.state.params), rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(jax.device_get(one.state.extra), jax.device_get(eight.state.extra), rtol=1e-5, atol=1e-6)
    assert one.eval_metrics == pytest.approx(eight.eval_metrics)


def test_arrays_of_another_shape_are_refused_with_the_differing_fields(tmp_path, straight):
    """The toy family leaves its width out of its identity; the layout check still refuses."""
    from jaxae.errors import CheckpointError

    copy = killed_copy(tmp_path, straight[0], keep_through=20)
    wider = toy_family.config()
    wider.toy.width = 6
    with pytest.raises(CheckpointError) as error:
        train(copy, wider)
    message = str(error.value)
    assert "holds arrays of other shapes than this run's state" in message and "float32[12,4]" in message
    assert "toy.width: checkpoint 4, this run 6" in message and "\n" not in message


def test_a_start_hook_at_step_zero_is_saved_and_a_restart_records_it_once(tmp_path):
    """With no 'embed' phase, 'cluster' starts at step 0: its hook runs on the fresh state and step
    0 is saved. A run killed before any save starts afresh: the hook's record is not doubled."""
    config = toy_family.config(embed_steps=0)
    straight = train(tmp_path / "straight", config)
    records = read_metrics(str(tmp_path / "straight"))
    assert [r["step"] for r in records if "cluster/spread" in r] == [0, 4, 8]
    assert 0 in [int(n) for n in os.listdir(tmp_path / "straight" / "checkpoints") if n.isdigit()]
    killed = killed_copy(tmp_path, tmp_path / "straight", keep_through=-1)
    resumed = train(killed, toy_family.config(embed_steps=0))
    chex.assert_trees_all_equal(jax.device_get(resumed.state), jax.device_get(straight.state))
    assert metrics_without_timing(killed) == metrics_without_timing(tmp_path / "straight")


class WrongShapeHook(toy_family.ToyTrainer):
    """A family whose hook returns centroids of another shape than the state had."""

    def set_centroids(self, state, split):
        return state.replace(extra={**state.extra, "centroids": np.zeros((toy_family.K + 1, self.width))}), {}


def test_a_hook_that_changes_the_state_layout_is_refused(tmp_path):
    from jaxae.trainers import FAMILIES, register

    register("toy_wrong_shape", WrongShapeHook)
    try:
        config = toy_family.config()
        config.trainer = "toy_wrong_shape"
        with pytest.raises(ValueError, match="the start hook of phase 'cluster' returned a state of another layout"):
            train(tmp_path, config)
    finally:
        FAMILIES.pop("toy_wrong_shape")


class AdoptingToy(toy_family.ToyTrainer):
    """A family that starts from another run: its embedding table (`width` columns of it)."""

    def init_from(self):
        return "the other run"

    def adopt(self, state, trained):
        return state.replace(params={"embed": jnp.asarray(trained.params["embed"][:, :self.width])})


def test_a_fresh_state_adopts_the_named_run_before_its_hooks_and_a_resumed_one_never(tmp_path, straight, monkeypatch):
    from jaxae.trainers import FAMILIES, register

    other = types.SimpleNamespace(params=jax.device_get(straight[1].state.params))  # What jaxae.load would give.
    other.params["embed"] = np.concatenate([other.params["embed"]] * 2, axis=1)  # Wider: adopt must cut it.
    loads = []
    monkeypatch.setattr(loop, "load", lambda workdir, mesh: loads.append(workdir) or other)
    register("toy_adopting", AdoptingToy)
    try:
        config = toy_family.config(embed_steps=0)
        config.trainer = "toy_adopting"
        first = train(tmp_path / "a", config)
        assert loads == ["the other run"]
        # The start hook at step 0 ran on the adopted table, not on the fresh one of `init`.
        spread = read_metrics(str(tmp_path / "a"))[0]["cluster/spread"]
        train(tmp_path / "fresh", toy_family.config(embed_steps=0))
        assert spread != pytest.approx(read_metrics(str(tmp_path / "fresh"))[0]["cluster/spread"], rel=1e-3)
        killed = killed_copy(tmp_path, tmp_path / "a", keep_through=4)
        resumed = train(killed, config)
        assert loads == ["the other run"]  # Resumed from step 4: nothing loaded or adopted again.
        chex.assert_trees_all_equal(jax.device_get(resumed.state), jax.device_get(first.state))
        # An adopt that changes the state's layout is refused, as a hook's is.
        other.params["embed"] = other.params["embed"][:2]
        with pytest.raises(ValueError, match="adopting 'the other run' returned a state of another layout"):
            train(tmp_path / "b", config)
    finally:
        FAMILIES.pop("toy_adopting")


def test_the_seeds_wrapper_forwards_every_member_of_the_contract():
    from jaxae.trainers import base
    from jaxae.trainers.seeds import SeedsTrainer

    public = {name for name in vars(base.Trainer) if not name.startswith("_")}
    assert public == set(base.CONTRACT) | set(base.CLASS_CONTRACT) | set(base.HELPERS)  # Each member classified.
    train_source, _ = toy_family.data()
    wrapper = SeedsTrainer(toy_family.ToyTrainer(toy_family.config(), train_source.spec, len(train_source)), 2)
    missing = [name for name in base.CONTRACT if name not in vars(SeedsTrainer) and name not in vars(wrapper)]
    assert not missing, f"SeedsTrainer does not forward {missing}"


class ExportingToy(toy_family.ToyTrainer):
    """The toy family with its table split over the devices' rows and a file written at the end."""

    exported_files = ("table.npy",)

    def state_sharding(self, abstract_state, mesh):
        from jax.sharding import NamedSharding, PartitionSpec

        rows = NamedSharding(mesh, PartitionSpec(parallel.DATA_AXIS, None))
        return super().state_sharding(abstract_state, mesh).replace(params={"embed": rows})

    def export(self, state, source, workdir):
        np.save(os.path.join(workdir, "table.npy"), np.asarray(state.params["embed"]))
        return {"table_norm": float(np.linalg.norm(state.params["embed"]))}


def test_several_seeds_keep_the_familys_placement_and_export_seed_zeros_files(tmp_path):
    from jaxae.trainers import FAMILIES, register

    register("toy_export", ExportingToy)
    try:
        config = toy_family.config()
        config.trainer, config.num_seeds = "toy_export", 2
        result = train(tmp_path, config, parallel.make_mesh(4))
    finally:
        FAMILIES.pop("toy_export")
    table = result.state.params["embed"]  # [seeds, VOCAB, DIM], rows split 4 ways, seeds whole.
    assert table.shape[0] == 2 and tuple(table.sharding.spec)[:2] == (None, parallel.DATA_AXIS)
    assert {shard.data.shape for shard in table.addressable_shards} == {(2, toy_family.VOCAB // 4, toy_family.DIM)}
    saved = np.load(tmp_path / "table.npy")
    np.testing.assert_array_equal(saved, np.asarray(table)[0])
    assert result.eval_metrics["export/table_norm"] == pytest.approx(float(np.linalg.norm(saved)))
    assert result.export_paths == [str(tmp_path / "table.npy")]


def test_what_load_returns_keeps_one_protocol_in_every_family():
    """Every family's trained model is a `TrainedModel`: tools read `offers`, `input_fields` and
    `predicts`, never a family's attributes (`__init_subclass__` checks each offer is a method)."""
    import importlib
    import inspect
    import pkgutil

    import jaxae.trainers
    from jaxae.trainers.base import TrainedModel

    found = {}
    for info in pkgutil.walk_packages(jaxae.trainers.__path__, "jaxae.trainers."):
        module = importlib.import_module(info.name)
        found |= {name: value for name, value in vars(module).items()
                  if inspect.isclass(value) and name.startswith("Trained") and value.__module__ == info.name}
    assert {"TrainedAutoencoder", "TrainedClustering", "TrainedClassifier", "TrainedGAN", "TrainedAAE",
            "TrainedTableAutoencoder", "TrainedAutoRec", "TrainedSkipGram"} <= set(found)
    for name, cls in found.items():
        assert cls is TrainedModel or issubclass(cls, TrainedModel), name
    with pytest.raises(TypeError, match="lacks"):
        type("Broken", (TrainedModel,), {"offers": frozenset({"encode"})})
