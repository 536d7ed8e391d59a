"""Early stopping: a metric watched at each eval on a validation part of the training split, the
best state kept, and the run ended once the metric has not improved for `patience` evals.

`config.early_stopping.metric` names one of the family's eval metrics ('neg_elbo', not
'eval/neg_elbo'); '' turns it off. When on, `set_up` carves `validation_fraction` of the training
split (drawn by `split_seed`) as the validation part, which is never trained on; the periodic evals
run on it and are recorded as `validation/<name>`, so the eval split stays untouched until the
final eval, which scores the best state on it as `eval/<name>`. The best state is saved in
`<workdir>/best/` beside the last checkpoints, and `jaxae.load(workdir)` takes it. The tracker's
state (best value and step, evals waited, whether it stopped) travels in every checkpoint's
metadata, so a resumed run waits the same patience and stops at the same step, bit-exactly.
"""

from __future__ import annotations

import dataclasses
import math

from jaxae.errors import CheckpointError, ConfigError, another_workdir

BEST_DIR = "best"


def enabled(config) -> bool:
    return bool(config.get("early_stopping") and config.early_stopping.metric)


@dataclasses.dataclass
class Tracker:
    """The watched metric's best value and step, the evals waited since, and whether the run stopped."""

    metric: str
    mode: str
    patience: int
    min_delta: float
    best: float | None = None
    best_step: int | None = None
    waited: int = 0
    stopped: bool = False

    @classmethod
    def of(cls, config) -> "Tracker | None":
        if not enabled(config):
            return None
        section = config.early_stopping
        return cls(section.metric, section.mode, int(section.patience), float(section.min_delta))

    def update(self, step: int, metrics: dict[str, float]) -> bool:
        """Takes an eval's `validation/<name>` metrics; True when `step` holds a new best state.

        Raises:
          ConfigError: the eval reports no such metric (its names listed).
        """
        key = f"validation/{self.metric}"
        if key not in metrics:
            names = sorted(name.split("/", 1)[1] for name in metrics)
            raise ConfigError(f"early_stopping.metric={self.metric!r} is not among the eval's metrics {names}")
        value = metrics[key]
        sign = 1.0 if self.mode == "min" else -1.0
        if math.isfinite(value) and (self.best is None or sign * (self.best - value) > self.min_delta):
            self.best, self.best_step, self.waited = value, step, 0
            return True
        self.waited += 1
        self.stopped = self.waited >= self.patience
        return False

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    def restore(self, record: dict | None) -> None:
        """The state a checkpoint's metadata saved (none: a fresh run).

        Raises:
          CheckpointError: the checkpoint watched another metric or direction (its best value would
            be compared with this run's metric).
        """
        saved = (record or {}).get("metric", self.metric), (record or {}).get("mode", self.mode)
        if saved != (self.metric, self.mode):
            raise CheckpointError(f"the checkpoints watched early_stopping.metric={saved[0]!r} (mode {saved[1]!r}); this "
                                  f"run asks for {self.metric!r} ({self.mode!r}): set those back, or use {another_workdir()}")
        for field in ("best", "best_step", "waited", "stopped"):
            setattr(self, field, (record or {}).get(field, getattr(Tracker, field)))
