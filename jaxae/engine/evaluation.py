"""Evaluation over a whole split for any trainer: summed eval steps, the trainer's report, pictures."""

from __future__ import annotations

import functools
import os
import sys

import jax
import numpy as np

from jaxae.data import pipeline
from jaxae.data.whole_split import WholeSplit
from jaxae.devices import parallel
from jaxae.errors import writing
from jaxae.metrics.means import add_metrics
from jaxae.pictures import viz
from jaxae.trainers.base import eval_fields_read


def accumulate(eval_step, total, state, batch, mask):
    """`total` plus eval_step's sums for one batch, in one program.

    Taking the running total as an input chains the batches' programs, each waiting for the one
    before. Dispatched independently, their cross-device sums could be in flight together and
    deadlock XLA:CPU's in-process collectives (each device's thread blocked in a different
    program's rendezvous; XLA aborts the process after 40 s).
    """
    return add_metrics(total, eval_step(state, batch, mask))


class Evaluator:
    """The trainer's report of its eval sums over a whole split, and its pictures of a few examples.

    Args:
      trainer: the run's Trainer (`eval_step`, `eval_report`, `pictures`, `eval_fields`,
        `optional_eval_fields`).
      source: the eval split, decoded into host memory once when it fits the budget.
      batch_size: global eval batch size (the last batch is padded and masked).
      num_image_examples: eval examples that `pictures` draws from.
      prefix: what the metrics' names begin with ('eval'; 'validation' for early stopping's part).
    """

    def __init__(self, trainer, source, mesh, batch_size: int, *, num_image_examples: int, num_samples: int,
                 host_memory_budget_mb: float = 0, prefix: str = "eval"):
        fields = list(eval_fields_read(trainer, trainer.config, source.spec))
        missing = sorted(set(trainer.optional_eval_fields(trainer.config)) - set(fields))
        if missing and jax.process_index() == 0:
            print(f"jaxae: {source.where} has no {', '.join(map(repr, missing))}: the evals report what needs "
                  "none (a clustering's label-free measures)", file=sys.stderr, flush=True)
        self.split = WholeSplit(source, mesh, batch_size, fields, host_memory_budget_mb=host_memory_budget_mb)
        self.trainer, self.mesh, self.num_samples, self.prefix = trainer, mesh, num_samples, prefix
        self._sum_shapes = None  # Shapes of eval_step's sums, traced at the first eval.
        self._accumulate = jax.jit(functools.partial(accumulate, trainer.eval_step), donate_argnums=0)
        self._pictures = jax.jit(trainer.pictures, static_argnums=2)
        count = min(num_image_examples, len(self.split))
        self._picture_batch = pipeline.read_batch(self.split.source, np.arange(count), fields) if count else None

    def metrics(self, state) -> dict[str, float]:
        """{'<prefix>/<name>': value} from the trainer's report of the whole split's sums."""
        total = None
        for batch, mask in self.split.batches():
            if total is None:
                total = self._zero_sums(state, batch, mask)
            total = self._accumulate(total, state, batch, mask)
        report = self.trainer.eval_report(jax.device_get(total))
        return {f"{self.prefix}/{name}": float(value) for name, value in report.items()}

    def _zero_sums(self, state, batch, mask):
        """Fresh replicated zeros like eval_step's sums (the running total is donated, so new each eval)."""
        if self._sum_shapes is None:
            self._sum_shapes = jax.eval_shape(self.trainer.eval_step, state, batch, mask)
        return parallel.zeros_placed(self._sum_shapes, parallel.replicated(self.mesh))

    def write_pictures(self, state, step: int, image_dir: str, writer) -> list[str]:
        """Writes each of the trainer's pictures as <image_dir>/<name>_<step>.png (process 0) and to TensorBoard."""
        if self._picture_batch is None:
            return []
        batch = parallel.put_replicated(self._picture_batch, self.mesh)
        pictures = jax.device_get(self._pictures(state, batch, self.num_samples))
        paths = []
        if jax.process_index() != 0:
            return paths
        os.makedirs(image_dir, exist_ok=True)
        for name, images in pictures.items():
            grid = viz.make_grid(np.asarray(images))
            path = os.path.join(image_dir, f"{name}_{step:07d}.png")
            with writing(path):
                viz.save_png(path, grid)
            writer.write_image(step, f"images/{name}", grid)
            paths.append(path)
        return paths
