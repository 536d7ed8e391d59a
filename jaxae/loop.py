"""The one shared training loop: restore-or-init, iterate, log, evaluate, checkpoint, stop cleanly.

Trainers only supply pure step functions; this loop owns time, files and signals. Events fall on
absolute step multiples (``log_every``, ``eval_every``, ``checkpoint_every``, the last step), so a
run resumed from a checkpoint replays exactly the windows, batches and numbers of an
uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import time

import jax
import numpy as np

from jaxae import parallel
from jaxae.checkpoint import Checkpointer, workdir_for
from jaxae.config_validation import prepare_workdir, validate_config
from jaxae.data import pipeline, sources
from jaxae.errors import ConfigError, DataError, NonFiniteLossError, WorkdirError
from jaxae.evaluation import Evaluator
from jaxae.metric_writers import MetricWriter, format_metrics
from jaxae.runners import DeviceResidentRunner, StreamingRunner, add_metrics, in_host_memory, split_bytes
from jaxae.trainers import create_trainer

EXIT_PREEMPTED = 143  # 128 + SIGTERM: the run saved a checkpoint and stopped; start it again to resume.


class Preempted(Exception):
    """SIGTERM arrived; a checkpoint of `step` was saved before stopping."""

    def __init__(self, step: int):
        super().__init__(f"stopped by SIGTERM after saving step {step}")
        self.step = step


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


def run(config, workdir: str, *, on_mismatch: str = "fail") -> RunResult:
    """Trains `config` in `workdir` on the tfds data set it names (resuming if checkpoints exist).

    on_mismatch: what to do when `workdir` holds checkpoints of another model or config: 'fail'
      (a CheckpointError listing the differing fields) or 'new_workdir' (train in the first free
      or matching sibling `<workdir>-2`, `<workdir>-3`, ...; the other workdir is left untouched).
    """
    validate_config(config)
    if on_mismatch not in ("fail", "new_workdir"):
        raise ConfigError(f"on_mismatch={on_mismatch!r} must be 'fail' or 'new_workdir'")
    if on_mismatch == "new_workdir":
        workdir = workdir_for(os.path.abspath(workdir), config)
    workdir = prepare_workdir(workdir)
    mesh = parallel.make_mesh(config.parallel.num_devices)
    parallel.check_platform(config, jax.devices()[0].platform, jax.process_count(), jax.device_count())
    data_dir = config.data.tfds_data_dir or None
    if jax.process_count() > 1:  # One writer: process 0 prepares an embedded data set, the rest wait.
        if jax.process_index() == 0:
            sources.prepare_embedded(config.data.name, data_dir)
        parallel.barrier("jaxae: data prepared")
    train_source = sources.open_tfds(config.data.name, config.data.train_split, data_dir)
    eval_source = sources.open_tfds(config.data.name, config.data.eval_split, data_dir)
    return train(config, workdir, train_source, eval_source, mesh)


def _close_quietly(*closables) -> None:
    for closable in closables:
        try:
            closable.close()
        except Exception:  # Already failing: a second error would hide the first.
            pass


def restore_or_init(trainer, checkpointer: Checkpointer, mesh, seed: int):
    """The latest checkpoint restored into the state's layout, or a fresh state built under `jit`."""
    key = jax.random.PRNGKey(seed)
    replicated = parallel.replicated(mesh)
    abstract = jax.tree.map(lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=replicated),
                            jax.eval_shape(trainer.init, key))
    latest = checkpointer.latest_step()
    if latest is not None:
        return checkpointer.restore(latest, abstract)
    return jax.jit(trainer.init, out_shardings=replicated)(key)


def _choose_runner(config, trainer, source, order, mesh, start_step, num_steps):
    placement = config.data.placement
    if placement == "auto":
        fits = split_bytes(source) <= config.data.device_memory_budget_mb * 2**20
        placement = "device" if fits else "stream"
    mode = config.parallel.mode
    if placement == "device":
        runner = DeviceResidentRunner(trainer.train_step, source, order, mesh, mode=mode)
        return runner, config.steps_per_dispatch or config.log_every
    source = in_host_memory(source, config.data.host_memory_budget_mb)
    runner = StreamingRunner(trainer.train_step, source, order, mesh, start_step=start_step, stop_step=num_steps,
                             prefetch=config.data.prefetch, mode=mode)
    return runner, math.inf


class _SigtermFlag:
    """Turns SIGTERM into a flag the loop checks at log boundaries (restored on exit)."""

    def __enter__(self):
        self.raised = False
        self._previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, signum, frame):
        del signum, frame
        self.raised = True

    def __exit__(self, *exc):
        signal.signal(signal.SIGTERM, self._previous)


def train(config, workdir: str, train_source, eval_source, mesh) -> RunResult:
    """The loop proper, over already opened sources (tfds or in-memory arrays)."""
    if tuple(eval_source.image_shape) != tuple(train_source.image_shape):
        raise DataError(f"eval images are {eval_source.image_shape} but training images are "
                        f"{train_source.image_shape}")
    parallel.check_batch_divides(config.batch_size, mesh)
    parallel.check_batch_divides(config.eval_batch_size, mesh, "eval_batch_size")
    order = pipeline.BatchOrder(len(train_source), config.batch_size, config.seed)
    num_steps = config.num_steps or config.num_epochs * order.steps_per_epoch
    pmap = config.parallel.mode == "pmap"
    trainer = create_trainer(config, train_source.image_shape, num_steps, axis_name=parallel.DATA_AXIS if pmap else None)
    checkpointer = Checkpointer(os.path.join(workdir, "checkpoints"), config, keep=config.keep_checkpoints)
    lead = jax.process_index() == 0
    image_dir = os.path.join(workdir, "images")
    evaluator = Evaluator(trainer, eval_source, mesh, config.eval_batch_size,
                          num_image_examples=config.num_image_examples, num_samples=config.num_samples,
                          host_memory_budget_mb=config.data.host_memory_budget_mb)
    writer = MetricWriter(workdir, enabled=False)  # Replaced once the start step is known.
    try:
        state = restore_or_init(trainer, checkpointer, mesh, config.seed)
        step = int(state.step)
        if step > num_steps:
            raise ConfigError(f"{checkpointer.directory} holds step {step}, past this run's {num_steps} steps "
                              f"(num_steps={config.num_steps}, num_epochs={config.num_epochs}); ask for at least "
                              f"{step} steps, or use another --workdir")
        writer = MetricWriter(workdir, start_step=step, enabled=lead)
        if lead:
            print(f"jaxae: {'resuming from step ' + str(step) if step else 'starting'} of {num_steps}; "
                  f"{mesh.devices.size} {jax.devices()[0].platform} device(s); workdir {workdir}", flush=True)
        image_paths = []  # A run that was already complete has written its final records.
        if step < num_steps:
            runner, dispatch_limit = _choose_runner(config, trainer, train_source, order, mesh, step, num_steps)
            state = _iterate(config, state, step, num_steps, runner, dispatch_limit, evaluator, checkpointer,
                             writer, image_dir, lead)
        final = evaluator.metrics(state)
        if step < num_steps:
            writer.write(num_steps, final)
            image_paths = evaluator.write_images(state, num_steps, image_dir, writer)
            checkpointer.save(num_steps, state)
    except WorkdirError as error:
        _close_quietly(checkpointer, writer)
        if "intact" in str(error):
            raise
        raise WorkdirError(f"{error}. Checkpoints in {checkpointer.directory} are intact: steps "
                           f"{checkpointer.all_steps()}") from error
    except BaseException:
        _close_quietly(checkpointer, writer)  # The error in flight is the one to report.
        raise
    try:
        checkpointer.close()
    finally:
        writer.close()
    return RunResult(step=num_steps, eval_metrics=final, workdir=workdir, checkpoint_dir=checkpointer.directory,
                     metrics_path=writer.jsonl_path, image_paths=image_paths, state=state)


def seconds_since_process_start() -> float:
    """Wall time since this process began (Linux /proc; elsewhere since this module was imported)."""
    try:
        with open("/proc/self/stat") as stat, open("/proc/uptime") as uptime:
            started_ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
            return float(uptime.read().split()[0]) - started_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.perf_counter() - _IMPORTED


_IMPORTED = time.perf_counter()


def last_good(checkpointer: Checkpointer) -> str:
    latest = checkpointer.latest_step()
    if latest is None:
        return "no checkpoint had been saved"
    return f"nothing after step {latest} was saved (last good checkpoint: {checkpointer.directory}/{latest})"


EVERY_STEP_METRICS = ("skipped", "loss_scale")  # Recorded on skipped steps too.


def window_means(sums: dict, steps: int) -> dict[str, float]:
    """Per-step means of a log window's metric sums, as 'train/<name>'.

    Steps skipped for a non-finite loss (counted in 'skipped', their metrics zeroed) are left out
    of every mean but that of 'skipped', which becomes the fraction of the window skipped.
    """
    skipped = float(sums.get("skipped", 0.0))
    kept = max(steps - skipped, 1.0)
    return {f"train/{name}": float(value) / (steps if name in EVERY_STEP_METRICS else kept)
            for name, value in sums.items()}


def _iterate(config, state, step, num_steps, runner, dispatch_limit, evaluator, checkpointer, writer,
             image_dir, lead):
    """Runs steps up to `num_steps`, handling each event as its step is reached."""
    from tqdm import tqdm

    def next_event(s):
        periods = [config.log_every, config.checkpoint_every] + ([config.eval_every] if config.eval_every else [])
        return min([num_steps] + [(s // p + 1) * p for p in periods])

    window, window_steps = None, 0
    timed_steps, timer = 0, None
    progress = tqdm(total=num_steps, initial=step, disable=not lead, unit="step", dynamic_ncols=True)
    with _SigtermFlag() as sigterm, progress:
        while step < num_steps:
            count = int(min(next_event(step) - step, dispatch_limit))
            state, sums = runner(state, step, count)
            window, window_steps, step = add_metrics(window, sums), window_steps + count, step + count
            if timer is None:  # The first dispatch includes compilation: time from its end.
                jax.block_until_ready(state)
                timer = time.perf_counter()
                if lead:
                    progress.write(f"jaxae: first {count} step(s) done {seconds_since_process_start():.2f} s "
                                   f"after the process started (compilation included)")
            else:
                timed_steps += count
            progress.update(count)
            if step % config.log_every == 0 or step == num_steps:
                metrics = window_means(jax.device_get(window), window_steps)
                for name in ("train/loss", "train/grad_norm"):
                    if not np.isfinite(metrics[name]):
                        checkpointer.wait()
                        raise NonFiniteLossError(
                            f"{name}={metrics[name]} in steps {step - window_steps + 1}-{step}; "
                            + last_good(checkpointer) + ". Lower the learning rate, or set nonfinite='skip'")
                if timed_steps:
                    metrics["train/examples_per_sec"] = timed_steps * config.batch_size / (time.perf_counter() - timer)
                writer.write(step, metrics)
                if lead:
                    progress.write(f"step {step}: {format_metrics(metrics)}")
                window, window_steps = None, 0
                timed_steps, timer = 0, time.perf_counter()
            if config.eval_every and step % config.eval_every == 0 and step < num_steps:
                eval_started = time.perf_counter()
                eval_metrics = evaluator.metrics(state)
                writer.write(step, eval_metrics)
                evaluator.write_images(state, step, image_dir, writer)
                if lead:
                    progress.write(f"step {step}: {format_metrics(eval_metrics)}")
                timer += time.perf_counter() - eval_started  # The eval is not training time.
            if step % config.checkpoint_every == 0 and step < num_steps:
                checkpointer.save(step, state)
            # Stop on a log boundary, so the resumed run logs the same windows; every process
            # agrees on the step.
            # The last step is left to finish normally: its final eval and save are short.
            at_boundary = step % config.log_every == 0 and step < num_steps
            if at_boundary and parallel.any_process(sigterm.raised):
                if checkpointer.latest_step() != step:  # Not already saved by the periodic checkpoint.
                    checkpointer.save(step, state, force=True)
                checkpointer.wait()
                raise Preempted(step)
    return state
