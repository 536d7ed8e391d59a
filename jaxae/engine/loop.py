"""The one shared training loop, for every family: set up (`setup.set_up`), restore or init, iterate, finish.

Trainers supply pure steps, hooks and evaluation (`trainers.base`); this loop owns time, files
and signals, and never looks at what a family is. Events fall on absolute steps
(`events.EventPlan`), so a run resumed from a checkpoint replays exactly the windows, batches,
hooks and numbers of an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import math
import os

import jax

from jaxae.config.validation import validate_config
from jaxae.data import host, sources
from jaxae.data.whole_split import WholeSplit
from jaxae.devices import parallel
from jaxae.engine import early_stopping
from jaxae.engine.evaluation import Evaluator
from jaxae.engine.iteration import Iteration
from jaxae.engine.load import load
from jaxae.engine.runners import DeviceResidentRunner, StreamingRunner
from jaxae.engine.setup import RunSetup, check_devices, set_up
from jaxae.engine.stops import Stopped
from jaxae.errors import CheckpointWriteError, ConfigError, NonFiniteLossError, WorkdirError, another_workdir, writing
from jaxae.runs import resume, run_record
from jaxae.runs.checkpoint import Checkpointer, layout
from jaxae.runs.metric_writers import MetricWriter
from jaxae.runs.workdir import WorkdirLock, prepare_workdir

__all__ = ["run", "train", "RunResult", "RunSetup", "Stopped"]


@dataclasses.dataclass
class RunResult:
    """What a finished run leaves behind."""

    step: int
    eval_metrics: dict[str, float]
    workdir: str
    checkpoint_dir: str
    metrics_path: str
    image_paths: list[str]
    state: object = None
    export_paths: list[str] = dataclasses.field(default_factory=list)  # Files the family exported (embeddings.txt).


def run(config, workdir: str, *, on_mismatch: str = "fail") -> RunResult:
    """Trains `config` in `workdir` on the tfds data set it names (resuming if checkpoints exist).

    on_mismatch: what to do when `workdir` holds checkpoints of another run: 'fail' (a
      CheckpointError listing the differing fields) or 'new_workdir' (train in the first free
      or matching sibling `<workdir>-2`, `<workdir>-3`, ...; the other workdir is left untouched).
    """
    validate_config(config)  # Before any data is read.
    check_devices(config, parallel.make_mesh(config.parallel.num_devices))
    data_dir = config.data.tfds_data_dir or None
    # One writer: process 0 prepares an embedded data set; the others learn whether that failed.
    parallel.on_lead(lambda: sources.prepare_embedded(config.data.name, data_dir, config.data), "preparing the data set")
    train_source = sources.open_tfds(config.data.name, config.data.train_split, data_dir, config.data)
    eval_source = sources.open_tfds(config.data.name, config.data.eval_split, data_dir, config.data)
    return train(config, workdir, train_source, eval_source, on_mismatch=on_mismatch)


def train(config, workdir: str, train_source, eval_source, mesh=None, *, on_mismatch: str = "fail") -> RunResult:
    """Trains `config` on already opened sources (tfds splits or `ArraySource`s), with the same
    checks as `run` and train.py, all made before anything is compiled (data values are checked
    once, as they are read).

    mesh: the devices to train on (default `parallel.make_mesh(config.parallel.num_devices)`).
    """
    setup = set_up(config, workdir, train_source, eval_source, mesh, on_mismatch=on_mismatch)
    setup = dataclasses.replace(setup, workdir=prepare_workdir(setup.workdir))
    with _locked(setup.workdir):
        return Session(setup).run()


@contextlib.contextmanager
def _locked(workdir: str):
    """Process 0 holds the workdir's lock; every process learns whether taking it failed."""
    lock = WorkdirLock(workdir) if jax.process_index() == 0 else contextlib.nullcontext()
    parallel.on_lead(lock.__enter__, f"locking workdir {workdir!r}")
    try:
        yield
    finally:
        lock.__exit__(None, None, None)


class Session:
    """One invocation of a run in its workdir: restore or init, iterate to the end, finish."""

    def __init__(self, setup: RunSetup):
        self.setup, config = setup, setup.config
        self.config, self.workdir, self.trainer = config, setup.workdir, setup.trainer
        self.plan, self.mesh = setup.plan, setup.mesh
        self.fields = list(self.trainer.train_fields(config))
        # Decoded once (when it fits) for the runner and the hooks alike.
        self.train_source = host.in_host_memory(setup.train_source, config.data.host_memory_budget_mb, self.fields)
        self.lead = jax.process_index() == 0
        self.checkpointer = Checkpointer(os.path.join(self.workdir, "checkpoints"), keep=config.keep_checkpoints)
        evaluator = functools.partial(Evaluator, self.trainer, mesh=self.mesh, batch_size=config.eval_batch_size,
                                      num_image_examples=config.num_image_examples, num_samples=config.num_samples,
                                      host_memory_budget_mb=config.data.host_memory_budget_mb)
        self.final_evaluator = evaluator(setup.eval_source)
        # With early stopping the periodic evals score the validation part, and only the final one the eval split.
        self.tracker = early_stopping.Tracker.of(config)
        self.evaluator = (evaluator(setup.validation_source, prefix="validation") if self.tracker
                          else self.final_evaluator)
        self.writer = MetricWriter(self.workdir, enabled=False)  # Replaced once the start step is known.
        self.image_dir = os.path.join(self.workdir, "images")

    def save(self, step: int, state, *, force: bool = False, checkpointer=None) -> None:
        meta = {"identity": self.setup.identity, "record": self.setup.record, "layout": layout(state), "step": int(step)}
        if self.tracker:  # So that a resumed run waits the same patience.
            meta["early_stopping"] = self.tracker.to_json()
        (checkpointer or self.checkpointer).save(step, state, meta, force=force)

    @functools.cached_property
    def best(self) -> Checkpointer:
        """Early stopping's best state, one checkpoint in <workdir>/best."""
        return Checkpointer(os.path.join(self.workdir, early_stopping.BEST_DIR), keep=1)

    def save_best(self, step: int, state) -> None:
        """Keeps `state` of `step` as the best (a resumed run that replays the same eval finds it kept)."""
        if step not in self.best.all_steps():
            self.save(step, state, force=True, checkpointer=self.best)

    def run(self) -> RunResult:
        try:
            state, step = self._start()
            complete = step == self.plan.end or bool(self.tracker and self.tracker.stopped)
            if not complete:
                iteration = Iteration(self, state, step)
                state = iteration.run()
                step = iteration.step
            result = self._finish(state, step, resumed_complete=complete)
        except CheckpointWriteError:
            _close_quietly(*self._closables())
            raise
        except WorkdirError as error:  # Metrics, pictures or records could not be written.
            _close_quietly(*self._closables())
            raise WorkdirError(f"{error}. Checkpoints in {self.checkpointer.directory} are intact: steps "
                               f"{self.checkpointer.all_steps()}") from error
        except BaseException:
            _close_quietly(*self._closables())  # The error in flight is the one to report.
            raise
        try:
            self.checkpointer.close()
            if self.tracker:
                self.best.close()
        finally:
            self.writer.close()
        return result

    def _closables(self):
        """What a failing session closes: the checkpointers (early stopping's best too) and the writer."""
        return (self.checkpointer, *([self.best] if self.tracker else []), self.writer)

    def _start(self):
        """The state to continue from and its step; a fresh state is given the run it starts from
        (`Trainer.init_from`) and its first phase's start hook, then saved as step 0."""
        setup = self.setup
        state, restored = resume.restore_or_init(self.checkpointer, self.trainer, setup.abstract, seed=self.config.seed,
                                                 identity=setup.identity, config_json=setup.record["config"])
        step = int(state.step)
        if step > self.plan.end:
            phases = ", ".join(f"{phase.name} {phase.num_steps}" for phase in self.plan.phases)
            raise ConfigError(f"{self.checkpointer.directory} holds step {step}, past the end of this run's phases "
                              f"({phases}: {self.plan.end} steps); ask for at least {step} steps, or use {another_workdir()}")
        # Records after the restored step (of a run killed before its next save) are dropped; a fresh
        # state drops them all.
        opened = parallel.on_lead(lambda: MetricWriter(self.workdir, start_step=step if restored else -1),
                                  "opening the metric files")
        self.writer = opened if self.lead else MetricWriter(self.workdir, enabled=False)
        parallel.on_lead(self._write_record, "writing the run record")
        if self.lead:
            print(f"jaxae: {'resuming from step ' + str(step) if restored else 'starting'} of {self.plan.end}; "
                  f"{self.mesh.devices.size} {self.mesh.devices.flat[0].platform} device(s); workdir {self.workdir}",
                  flush=True)
        if self.tracker and restored:
            self.tracker.restore(self.checkpointer.read_meta(step).get("early_stopping"))
        if not restored and (self.trainer.init_from() or self.plan.hooks_at(0)):
            state = self.run_hooks(self.adopted(state), 0)
            self.save(0, state, force=True)
        return state, step

    def adopted(self, state):
        """A fresh state given the trained run it starts from (`Trainer.init_from`), if any."""
        workdir = self.trainer.init_from()
        if not workdir:
            return state
        before = layout(state)
        return self.placed(self.trainer.adopt(state, load(workdir, mesh=self.mesh)), before, f"adopting {workdir!r}")

    def _write_record(self) -> None:
        path = os.path.join(self.workdir, run_record.RECORD_FILE)
        with writing(path), open(path, "w") as out:
            json.dump(self.setup.record, out, indent=1, sort_keys=True)

    def run_hooks(self, state, step: int):
        """Runs the hooks due at `step` on the host, records their metrics, returns the new state."""
        for hook in self.plan.hooks_at(step):
            before = layout(state)
            state, metrics = hook.run(state, self.training_split)
            state = self.placed(state, before, f"the {hook.kind} hook of phase {hook.phase!r}")
            self.writer.write(step, {f"{hook.phase}/{name}": value for name, value in metrics.items()})
        return state

    def placed(self, state, before: dict, who: str):
        """`state` laid on the run's devices; ValueError when `who` changed its layout from `before`
        (a family's mistake: its checkpoints could not be resumed)."""
        state = parallel.place(state, parallel.shardings_of(self.setup.abstract))
        if layout(state) != before:
            raise ValueError(f"{who} returned a state of another layout (shapes, dtypes or structure) than it was given")
        return state

    @functools.cached_property
    def training_split(self) -> WholeSplit:
        """The training split for hooks to map over."""
        return WholeSplit(self.train_source, self.mesh, self.config.eval_batch_size, self.fields)

    def runner(self, start_step: int):
        """The device-resident runner and its steps per dispatch, or the streaming one (no limit)."""
        config, fields = self.config, self.fields
        placement = config.data.placement
        if placement == "auto":
            fits = host.split_bytes(self.train_source, fields) <= config.data.device_memory_budget_mb * 2**20
            placement = "device" if fits else "stream"
        mode = config.parallel.mode
        if placement == "device":
            runner = DeviceResidentRunner(self.train_source, fields, self.setup.order, self.mesh, mode=mode)
            return runner, config.steps_per_dispatch or config.log_every
        runner = StreamingRunner(self.train_source, fields, self.setup.order, self.mesh, start_step=start_step, stop_step=self.plan.end,
                                 prefetch=config.data.prefetch, mode=mode)
        return runner, math.inf

    def _export(self, state) -> dict[str, float]:
        """The family's files beside the checkpoints (`Trainer.export`), written by process 0; its
        measures as 'export/<name>' (which only process 0 records)."""
        if not self.trainer.exported_files:  # Nothing to write: no copy of the state either.
            return {}
        host_state = parallel.fetch_to_host(state)  # Every process takes part in gathering a split table.
        measures = parallel.on_lead(lambda: self.trainer.export(host_state, self.train_source, self.workdir),
                                    "exporting the run's files")
        return {f"export/{name}": float(value) for name, value in (measures or {}).items()}  # {} beside process 0.

    def _best_state(self, state, end: int):
        """(early stopping's best state, or `state` where no eval was finite; what the stopping did:
        `train/stopped_early`, the best step and its validation value, to record at `end`)."""
        tracker = self.tracker
        self.best.wait()
        if tracker.best_step is not None:
            state = self.best.restore(tracker.best_step, self.setup.abstract)
        record = {"train/stopped_early": float(tracker.stopped), "early_stopping/best_step": float(tracker.best_step or end)}
        if tracker.best is not None:
            record[f"early_stopping/best_validation_{tracker.metric}"] = tracker.best
        if self.lead:
            ran = f"stopped early at step {end} of {self.plan.end}" if tracker.stopped else f"ran all {end} steps"
            print(f"jaxae: {ran}; the final eval scores the best state, step {tracker.best_step} "
                  f"(validation/{tracker.metric}={tracker.best}), kept in {self.best.directory}", flush=True)
        return state, record

    def _finish(self, state, end: int, *, resumed_complete: bool) -> RunResult:
        """The final checkpoint first (nothing after it can lose the training), then the final eval
        (of the best state, with early stopping), the family's export, the eval record and pictures
        (written once, also when a complete run is started again)."""
        if not resumed_complete:
            self.save(end, state, force=end != self.plan.end)  # A run stopped early saves where it stopped.
        self.checkpointer.wait()
        stopping = {}
        if self.tracker:
            state, stopping = self._best_state(state, end)
        final = self.final_evaluator.metrics(state)
        image_paths = []
        # Every process takes the same branch: the pictures are a program all of them run.
        if not parallel.max_over_processes(int(self.writer.has_record(end, "eval/"))):
            if all(math.isfinite(value) for value in final.values()):  # Else the error below says why.
                final |= self._export(state)  # Before the eval record, which marks the run's end as done.
            self.writer.write(end, stopping | final)
            image_paths = self.final_evaluator.write_pictures(state, end, self.image_dir, self.writer)
        bad = {name: value for name, value in final.items() if not math.isfinite(value)}
        if bad:
            raise NonFiniteLossError(f"the final eval is not finite ({', '.join(f'{k}={v}' for k, v in bad.items())}); "
                                     f"the checkpoint of step {end} was saved in {self.checkpointer.directory}")
        exported = [os.path.join(self.workdir, name) for name in self.trainer.exported_files]
        return RunResult(step=end, eval_metrics=final, workdir=self.workdir, checkpoint_dir=self.checkpointer.directory,
                         metrics_path=self.writer.jsonl_path, image_paths=image_paths, state=state,
                         export_paths=[path for path in exported if os.path.exists(path)])


def _close_quietly(*closables) -> None:
    for closable in closables:
        try:
            closable.close()
        except Exception:  # Already failing: a second error would hide the first.
            pass
