"""Which few examples of a split keep their labels: class-balanced draws, for classification with
few labels (the `classifier` family and the linear probes of `benchmarks/reduction.py`)."""

from __future__ import annotations

import numpy as np

from jaxae.errors import DataError


def balanced_draw(labels, count: int, seed: int, num_classes: int | None = None) -> np.ndarray:
    """Indices of `count` examples drawn without replacement, as evenly over the classes as `count`
    allows: count // num_classes of each class, and one more of each of count % num_classes
    classes (chosen by `seed` too). All indices, in order, when `count` >= len(labels).

    Args:
      labels: [n] integer class labels in [0, num_classes).
      count: how many labelled examples to keep.
      seed: the draw's seed: the same labels, count and seed give the same indices.
      num_classes: the number of classes (default: the largest label + 1).
    Returns:
      [min(count, n)] int64 indices into `labels`, class by class.
    Raises:
      DataError: a label lies outside the classes, or a class has fewer examples than its share.
    """
    labels = np.asarray(labels)
    num_classes = int(labels.max()) + 1 if num_classes is None else num_classes
    if labels.min() < 0 or labels.max() >= num_classes:
        raise DataError(f"labels lie in [{labels.min()}, {labels.max()}], outside the {num_classes} classes "
                        f"[0, {num_classes})")
    if count >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    shares = np.full(num_classes, count // num_classes)
    if count % num_classes:
        shares[rng.permutation(num_classes)[:count % num_classes]] += 1
    chosen = []
    for label, share in enumerate(shares):
        members = np.flatnonzero(labels == label)
        if len(members) < share:
            raise DataError(f"class {label} has {len(members)} examples, fewer than the {share} that {count} "
                            f"class-balanced labels over {num_classes} classes take from it")
        chosen.append(rng.choice(members, share, replace=False))
    return np.concatenate(chosen)
