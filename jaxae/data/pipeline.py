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

from jaxae.errors import ConfigError, DataError


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


def stream_batches(source, order: BatchOrder, start_step: int, stop_step: int, *, process_index: int = 0,
                   process_count: int = 1, prefetch: int = 4, threads: int = 2):
    """Host batches for steps [start_step, stop_step) of this process, read ahead by grain threads.

    Yields:
      {'image': [batch_size / process_count, H, W, C] raw, 'label': [...]} in step order.
    """
    share = process_slice(order.batch_size, process_index, process_count)

    def read_step(step: int):
        indices = order.batch_indices(step)[share]
        batch = source.read(indices)
        if np.issubdtype(batch["image"].dtype, np.floating):  # uint8 cannot be out of range.
            check_float_images(batch["image"], indices)
        return batch

    dataset = grain.MapDataset.range(start_step, stop_step).map(read_step)
    options = grain.ReadOptions(num_threads=threads, prefetch_buffer_size=prefetch)
    return iter(dataset.to_iter_dataset(options))


def check_float_images(images: np.ndarray, indices: np.ndarray) -> None:
    """Raises DataError naming the example index of the first NaN, infinity or value outside [0, 1]."""
    bad = ~np.isfinite(images) | (images < 0) | (images > 1)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        value = images[row][bad[row]][0]
        raise DataError(f"training example {int(indices[row])} has image value {value}; float images must be "
                        f"finite and lie in [0, 1]")


def eval_batches(source, batch_size: int, *, process_index: int = 0, process_count: int = 1):
    """The whole eval split in order, padded to full batches.

    Yields:
      (images [share, H, W, C] of this process's share, mask [share] float32: 1 for real examples
      and 0 for padding, index of the global batch's first example in the split).
    """
    share = process_slice(batch_size, process_index, process_count)
    total = len(source)
    for start in range(0, total, batch_size):
        indices = np.arange(start, start + batch_size)
        mask = (indices < total).astype(np.float32)
        images = source.read(np.minimum(indices, total - 1)[share])["image"]
        yield images, mask[share], start
