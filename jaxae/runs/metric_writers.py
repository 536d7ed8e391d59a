"""Where metrics go: ``metrics.jsonl`` (one JSON object per write), TensorBoard events, the console.

Only process 0 writes; the others get a writer that does nothing.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np

from jaxae.errors import WorkdirError, writing


class MetricWriter:
    """Writes {name: scalar} dicts at a step to the workdir's metrics.jsonl and TensorBoard files."""

    def __init__(self, workdir: str, *, start_step: int = 0, enabled: bool = True):
        """Opens the writers for a run that continues from `start_step`.

        Records after `start_step` (left by a run killed after its last checkpoint) are dropped,
        so the files read as if the run had never stopped.
        """
        self.enabled = enabled
        self.jsonl_path = os.path.join(workdir, "metrics.jsonl")
        self.tensorboard_dir = os.path.join(workdir, "tensorboard")
        self._tensorboard = None
        if enabled:
            from tensorboardX import SummaryWriter  # Writes event files without TensorFlow.

            with writing(self.jsonl_path):
                self._truncate_after(start_step)
            self._tensorboard = SummaryWriter(self.tensorboard_dir, flush_secs=10, purge_step=start_step + 1)

    def _truncate_after(self, step: int) -> None:
        if not os.path.exists(self.jsonl_path):
            return
        kept = [json.dumps(record) + "\n" for record in read_metrics(os.path.dirname(self.jsonl_path))
                if record["step"] <= step]
        temporary = self.jsonl_path + ".tmp"
        with open(temporary, "w") as out:
            out.writelines(kept)
        os.replace(temporary, self.jsonl_path)  # Atomic: a kill here leaves the old or the new file.

    def has_record(self, step: int, prefix: str) -> bool:
        """Whether metrics.jsonl holds a record at `step` with a metric named `prefix`..."""
        if not self.enabled or not os.path.exists(self.jsonl_path):
            return False
        return any(record["step"] == step and any(name.startswith(prefix) for name in record)
                   for record in read_metrics(os.path.dirname(self.jsonl_path)))

    def write(self, step: int, metrics: dict[str, float]) -> None:
        if not self.enabled or not metrics:
            return
        values = {name: float(value) for name, value in metrics.items()}
        record = {"step": int(step), **{k: (v if math.isfinite(v) else str(v)) for k, v in values.items()}}
        with writing(self.jsonl_path), open(self.jsonl_path, "a") as out:
            out.write(json.dumps(record) + "\n")
        with writing(self.tensorboard_dir):
            for name, value in values.items():
                if math.isfinite(value):  # tensorboardX warns for each non-finite scalar; metrics.jsonl keeps them.
                    self._tensorboard.add_scalar(name, value, step)

    def write_image(self, step: int, name: str, image: np.ndarray) -> None:
        """image: [height, width, channels] float in [0, 1]."""
        if self.enabled:
            with writing(self.tensorboard_dir):
                self._tensorboard.add_image(name, image, step, dataformats="HWC")

    def close(self) -> None:
        if self._tensorboard is not None:
            tensorboard, self._tensorboard = self._tensorboard, None
            with writing(self.tensorboard_dir):
                tensorboard.close()


def read_metrics(workdir: str) -> list[dict]:
    """The records of a workdir's metrics.jsonl, in the order written.

    A last line cut short (a kill or a full disk during the write) is dropped.

    Raises:
      WorkdirError: a line before the last is not a JSON record with a step (naming the line).
    """
    path = os.path.join(workdir, "metrics.jsonl")
    with open(path) as lines:
        text = [(number, line) for number, line in enumerate(lines, 1) if line.strip()]
    records = []
    for position, (number, line) in enumerate(text):
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or not isinstance(record.get("step"), int):
                raise ValueError("not a record with a step")
        except ValueError as error:
            if position == len(text) - 1:
                break
            raise WorkdirError(f"{path} line {number} is damaged ({error}); mend or delete that line, "
                               f"or move the file away, and start again") from None
        records.append(record)
    return records


def format_metrics(metrics: dict[str, float]) -> str:
    """'train/loss=101.3 train/kl=20.1' with 4 significant digits, for the console."""
    return " ".join(f"{name}={value:.4g}" for name, value in metrics.items())
