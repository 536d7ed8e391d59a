"""Which examples make each batch, and the grain pipeline that streams them from a source.

The order is a pure function of ``(seed, step)``: step ``s`` lies in epoch ``s // steps_per_epoch``
and takes the next ``batch_size`` entries of that epoch's permutation, which is drawn from a
generator seeded with ``(seed, epoch)``. The remainder of each epoch is dropped. A resumed run
therefore sees exactly the batches an uninterrupted run would, with nothing to save but the step,
and the device-resident and streaming paths share this one definition.
"""

from __future__ import annotations

import functools

import grain
import numpy as np

from jaxae.data import spec as specs
from jaxae.errors import ConfigError


class BatchOrder:
    """Global batch indices for any training step.

    Args:
      num_examples: size of the training split.
      batch_size: global batch size (all processes together).
      seed: non-negative integer.
    """

    def __init__(self, num_examples: int, batch_size: int, seed: int):
        if batch_size > num_examples:
            raise ConfigError(f"batch_size={batch_size} is larger than the {num_examples} training examples")
        self.num_examples, self.batch_size, self.seed = num_examples, batch_size, seed
        self.steps_per_epoch = num_examples // batch_size

    @functools.lru_cache(maxsize=2)
    def epoch_permutation(self, epoch: int) -> np.ndarray:
        """[num_examples] int64: the order of epoch `epoch`."""
        return np.random.default_rng([self.seed, epoch]).permutation(self.num_examples)

    def batch_indices(self, step: int) -> np.ndarray:
        """[batch_size] int64: the examples of global step `step`."""
        epoch, position = divmod(step, self.steps_per_epoch)
        start = position * self.batch_size
        return self.epoch_permutation(epoch)[start:start + self.batch_size]

    def chunk_indices(self, step: int, count: int) -> np.ndarray:
        """[count, batch_size] int32: the examples of steps step, ..., step + count - 1."""
        return np.stack([self.batch_indices(s) for s in range(step, step + count)]).astype(np.int32)


def process_slice(batch_size: int, process_index: int, process_count: int) -> slice:
    """This process's share of every global batch: a contiguous block of batch_size / process_count."""
    local = batch_size // process_count
    return slice(process_index * local, (process_index + 1) * local)


def read_batch(source, indices, fields) -> dict[str, np.ndarray]:
    """`fields` of the examples at `indices` [b], checked against the source's spec (`spec.check_read`),
    plus their 'index' [b] int32 in the split."""
    batch = source.read(indices, fields)
    specs.check_read(source, batch, indices)
    batch[specs.INDEX] = np.asarray(indices, np.int32)
    return batch


def stream_batches(source, order: BatchOrder, start_step: int, stop_step: int, fields, *, process_index: int = 0,
                   process_count: int = 1, prefetch: int = 4, threads: int = 2):
    """Host batches for steps [start_step, stop_step) of this process, read ahead by grain threads.

    Yields:
      {name: [batch_size / process_count, ...] for each of `fields`, 'index': [...] int32}, in step order.
    """
    share = process_slice(order.batch_size, process_index, process_count)
    dataset = grain.MapDataset.range(start_step, stop_step).map(
        lambda step: read_batch(source, order.batch_indices(step)[share], fields))
    options = grain.ReadOptions(num_threads=threads, prefetch_buffer_size=prefetch)
    return iter(dataset.to_iter_dataset(options))


def padded_batches(num_examples: int, batch_size: int, *, process_index: int = 0, process_count: int = 1):
    """Every example of a split once, in order, in global batches padded to `batch_size`.

    Yields:
      (indices [share] of this process's share of the batch, padding clamped to the last
      example; mask [share] float32: 1 for real examples, 0 for padding).
    """
    share = process_slice(batch_size, process_index, process_count)
    for start in range(0, num_examples, batch_size):
        indices = np.arange(start, start + batch_size)
        yield np.minimum(indices, num_examples - 1)[share], (indices < num_examples).astype(np.float32)[share]
