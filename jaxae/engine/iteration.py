"""The hot loop of a session: dispatch the phase's steps up to the next event, then handle the
events of that step (log window, non-finite guard, hooks, eval, checkpoint, signals)."""

from __future__ import annotations

import os
import time

import jax
import numpy as np

from jaxae.devices import parallel
from jaxae.engine.stops import Stopped, StopSignals
from jaxae.errors import NonFiniteLossError, TrainingFailedError
from jaxae.metrics.means import add_metrics
from jaxae.runs.metric_writers import format_metrics

def seconds_since_process_start() -> float:
    """Wall time since this process began (Linux /proc; elsewhere since this module was imported)."""
    try:
        with open("/proc/self/stat") as stat, open("/proc/uptime") as uptime:
            started_ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
            return float(uptime.read().split()[0]) - started_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.perf_counter() - _IMPORTED


_IMPORTED = time.perf_counter()


class Iteration:
    """Runs a session's state from `step` to the end of its plan."""

    def __init__(self, session, state, step: int):
        self.session, self.state, self.step = session, state, step
        self.plan, self.config = session.plan, session.config
        self.runner, self.dispatch_limit = session.runner(step)
        self.window, self.window_steps = None, 0
        self.timed_steps, self.timer = 0, None  # Steady-state timing: compiling dispatches are left out.
        self.compiled = set()
        self.stopped_early = False

    def run(self):
        from tqdm import tqdm

        lead = self.session.lead
        self.progress = tqdm(total=self.plan.end, initial=self.step, disable=not lead, unit="step", dynamic_ncols=True)
        with StopSignals() as signals, self.progress:
            while self.step < self.plan.end and not self.stopped_early:
                self._dispatch()
                self._handle_events(signals)
        return self.state

    def _dispatch(self) -> None:
        phase = self.plan.phase_at(self.step)
        count = int(min(self.plan.next_stop(self.step) - self.step, self.dispatch_limit))
        self.state, sums = self.runner(phase.step, self.state, self.step, count)
        self.window, self.window_steps = add_metrics(self.window, sums), self.window_steps + count
        self.step += count
        if phase.step not in self.compiled:  # This dispatch compiled its program: time from its end.
            self.compiled.add(phase.step)
            jax.block_until_ready(self.state)
            self.timer = time.perf_counter()
            if len(self.compiled) == 1 and self.session.lead:
                self.progress.write(f"jaxae: first {count} step(s) done {seconds_since_process_start():.2f} s "
                                    f"after the process started (compilation included)")
        else:
            self.timed_steps += count
        self.progress.update(count)

    def _handle_events(self, signals) -> None:
        step, plan, session = self.step, self.plan, self.session
        closes = plan.closes_window(step)
        if closes:
            self._close_window()
        started = time.perf_counter()
        hooks = plan.hooks_at(step)
        if hooks:
            self.state = session.run_hooks(self.state, step)
        if plan.evaluates(step):
            metrics = session.evaluator.metrics(self.state)
            session.writer.write(step, metrics)
            session.evaluator.write_pictures(self.state, step, session.image_dir, session.writer)
            if session.lead:
                self.progress.write(f"step {step}: {format_metrics(metrics)}")
            if session.tracker and session.tracker.update(step, metrics):
                session.save_best(step, self.state)
            self.stopped_early = bool(session.tracker and session.tracker.stopped)
        if plan.checkpoints(step) and not self.stopped_early:  # A stopped run saves where it stopped, at its end.
            session.save(step, self.state, force=bool(hooks))
        if self.timer is not None:
            self.timer += time.perf_counter() - started  # Hooks, evals and saves are not training time.
        # Stop only where a window closes, so the resumed run logs the same windows; every process
        # agrees on the step. The last step is left to finish normally: its final eval and save are short.
        if closes and step < plan.end:
            signum = parallel.max_over_processes(signals.received or 0)
            if signum:
                if session.checkpointer.latest_step() != step:  # Not already saved by a periodic checkpoint.
                    session.save(step, self.state, force=True)
                session.checkpointer.wait()
                raise Stopped(step, signum)

    def _close_window(self) -> None:
        """Writes the window's means; stops on a non-finite guarded metric or a failure the family diagnoses."""
        session, step = self.session, self.step
        means = session.trainer.window_means(jax.device_get(self.window), self.window_steps)
        metrics = {f"train/{name}": value for name, value in means.items()}
        for name in session.trainer.guarded_metrics:
            value = metrics.get(f"train/{name}")
            if value is not None and not np.isfinite(value):
                session.checkpointer.wait()
                raise NonFiniteLossError(
                    f"train/{name}={value} in steps {step - self.window_steps + 1}-{step}; "
                    + last_good(session.checkpointer) + ". Lower the learning rate, or set nonfinite='skip'")
        problem = session.trainer.diagnose(metrics)
        if problem:
            session.checkpointer.wait()
            raise TrainingFailedError(f"steps {step - self.window_steps + 1}-{step}: {problem}; "
                                      + last_good(session.checkpointer))
        if self.timed_steps:
            metrics["train/examples_per_sec"] = self.timed_steps * self.config.batch_size / (time.perf_counter() - self.timer)
        session.writer.write(step, metrics)
        if session.lead and metrics:  # A hook-only phase's step records nothing.
            self.progress.write(f"step {step}: {format_metrics(metrics)}")
        self.window, self.window_steps = None, 0
        self.timed_steps, self.timer = 0, time.perf_counter()


def last_good(checkpointer) -> str:
    latest = checkpointer.latest_step()
    if latest is None:
        return "no checkpoint had been saved"
    return f"nothing after step {latest} was saved (last good checkpoint: {checkpointer.directory}/{latest})"

