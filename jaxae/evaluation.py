"""Evaluation over a whole split, and the image grids written at each eval."""

from __future__ import annotations

import functools
import os

import jax
import numpy as np

from jaxae import parallel, viz
from jaxae.data import pipeline
from jaxae.errors import writing
from jaxae.runners import add_metrics, in_host_memory


def accumulate(eval_step, total, state, batch, mask, start):
    """`total` plus eval_step's sums for one batch, in one program.

    Taking the running total as an input chains the batches' programs, each waiting for the one
    before. Dispatched independently, their cross-device sums could be in flight together and
    deadlock XLA:CPU's in-process collectives (each device's thread blocked in a different
    program's rendezvous; XLA aborts the process after 40 s).
    """
    return add_metrics(total, eval_step(state, batch, mask, start))


class Evaluator:
    """Mean eval metrics over a split, and reconstruction/sample grids, for any trainer."""

    def __init__(self, trainer, source, mesh, batch_size: int, *, num_image_examples: int, num_samples: int,
                 host_memory_budget_mb: float = 0):
        source = in_host_memory(source, host_memory_budget_mb)  # Decoded once, not at every eval.
        self.trainer, self.source, self.mesh, self.batch_size = trainer, source, mesh, batch_size
        self.num_samples = num_samples
        self._sum_shapes = None  # Shapes of eval_step's sums, traced at the first eval.
        self._accumulate = jax.jit(functools.partial(accumulate, trainer.eval_step), donate_argnums=0)
        self._grids = jax.jit(trainer.image_grids, static_argnums=2)
        count = min(num_image_examples, len(source))
        self._image_batch = source.read(np.arange(count))["image"] if count else None

    def metrics(self, state) -> dict[str, float]:
        """{'eval/<name>': mean over every example of the split}."""
        total = None
        for images, mask, start in pipeline.eval_batches(self.source, self.batch_size,
                                                         process_index=jax.process_index(),
                                                         process_count=jax.process_count()):
            batch = parallel.host_to_global({"image": images, "mask": mask}, self.mesh)
            mask = batch.pop("mask")
            start = np.uint32(start)
            if total is None:
                total = self._zero_sums(state, batch, mask, start)
            total = self._accumulate(total, state, batch, mask, start)
        total = jax.device_get(total)
        count = total.pop("count")
        return {f"eval/{name}": float(value / count) for name, value in total.items()}

    def _zero_sums(self, state, batch, mask, start):
        """Fresh replicated zeros like eval_step's sums (the running total is donated, so new each eval)."""
        if self._sum_shapes is None:
            self._sum_shapes = jax.eval_shape(self.trainer.eval_step, state, batch, mask, start)
        return parallel.zeros_placed(self._sum_shapes, parallel.replicated(self.mesh))

    def write_images(self, state, step: int, image_dir: str, writer) -> list[str]:
        """Writes each grid as <image_dir>/<name>_<step>.png (process 0) and to TensorBoard."""
        if self._image_batch is None:
            return []
        images = parallel.put_replicated(self._image_batch, self.mesh)
        grids = jax.device_get(self._grids(state, images, self.num_samples))
        paths = []
        if jax.process_index() != 0:
            return paths
        os.makedirs(image_dir, exist_ok=True)
        for name, images in grids.items():
            columns = len(self._image_batch) if name == "reconstructions" else None
            grid = viz.make_grid(np.asarray(images), columns=columns)
            path = os.path.join(image_dir, f"{name}_{step:07d}.png")
            with writing(path):
                viz.save_png(path, grid)
            writer.write_image(step, f"images/{name}", grid)
            paths.append(path)
        return paths
