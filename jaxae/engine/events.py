"""Which events fall on which absolute step: logs, evals, checkpoints, phase starts and refreshes.

Every event is a function of the step number alone, so a run resumed from a checkpoint meets the
same events at the same steps as an uninterrupted run. Log windows close at every multiple of
``log_every``, at every phase boundary (a window never mixes two phases' metrics) and at every
hook, and checkpoints fall only on those closes, so a resumed run logs the same windows.
"""

from __future__ import annotations

import dataclasses

from jaxae.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Hook:
    """A hook due at a step: `run(state, whole training split) -> (state, metrics)` of `phase`."""

    phase: str
    kind: str  # 'start' or 'refresh'
    run: object


class EventPlan:
    """The events of a run whose phases are `phases` (`trainers.base.Phase`). A phase of 0 steps with
    a start hook is that hook alone (AE + K-means' K-means, N2D's embeddings), due where the phases
    before it end; one of 0 steps without a hook (pretraining replaced by `cluster.init_from`) is dropped."""

    def __init__(self, phases, *, log_every: int, eval_every: int, checkpoint_every: int):
        self.phases = tuple(phase for phase in phases if phase.num_steps > 0 or phase.on_start is not None)
        if not self.phases:
            raise ConfigError("every phase of this run has 0 steps: give it some steps (num_epochs or num_steps)")
        names = [phase.name for phase in self.phases]
        if len(set(names)) != len(names):
            raise ConfigError(f"phase names must differ; got {names}")
        self.starts, start = [], 0
        for phase in self.phases:
            self.starts.append(start)
            start += phase.num_steps
        self.end = start
        self.log_every, self.eval_every, self.checkpoint_every = log_every, eval_every, checkpoint_every

    def phase_at(self, step: int):
        """The phase that makes update number `step` (0-based): the one to dispatch from `step` on."""
        for phase, start in zip(self.phases, self.starts):
            if start <= step < start + phase.num_steps:
                return phase
        raise ValueError(f"step {step} lies outside the run's {self.end} steps")

    def hooks_at(self, step: int) -> list[Hook]:
        """The hooks due when the state has reached `step`, in order."""
        hooks = []
        for phase, start in zip(self.phases, self.starts):
            if step == start and phase.on_start is not None:
                hooks.append(Hook(phase.name, "start", phase.on_start))
            if (phase.refresh is not None and phase.refresh_every and start < step < start + phase.num_steps
                    and (step - start) % phase.refresh_every == 0):
                hooks.append(Hook(phase.name, "refresh", phase.refresh))
        return hooks

    def _boundary(self, step: int) -> bool:
        return step in self.starts or step == self.end or bool(self.hooks_at(step))

    def next_stop(self, step: int) -> int:
        """The first step after `step` at which anything happens."""
        candidates = [self.end, (step // self.log_every + 1) * self.log_every]
        if self.eval_every:
            candidates.append((step // self.eval_every + 1) * self.eval_every)
        for phase, start in zip(self.phases, self.starts):
            candidates.append(start)
            if phase.refresh is not None and phase.refresh_every:
                candidates.append(start + ((max(step - start, -1) // phase.refresh_every) + 1) * phase.refresh_every)
        return min(candidate for candidate in candidates if candidate > step)

    def closes_window(self, step: int) -> bool:
        return step % self.log_every == 0 or self._boundary(step)

    def evaluates(self, step: int) -> bool:
        """A periodic eval (the final one is the loop's own)."""
        return bool(self.eval_every) and step % self.eval_every == 0 and step < self.end

    def checkpoints(self, step: int) -> bool:
        """A periodic save, or one that follows a phase's start hook (the final save is the loop's own).

        Refreshes are not followed by a save: they are pure functions of the state, so a resumed
        run replays them exactly, and a refresh every few steps would otherwise save every few steps.
        """
        starts = any(hook.kind == "start" for hook in self.hooks_at(step))
        return step < self.end and (step % self.checkpoint_every == 0 or starts)
