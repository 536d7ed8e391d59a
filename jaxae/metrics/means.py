"""Sums of metrics and the masked mean of per-example values, written once for every family: an eval
step sums each value over the unmasked examples of its batch (`masked_sums`), the evaluator adds the
sums of every batch (`add_metrics`, which the runners use for a log window's train metrics too), and
the report divides the totals by the count of real examples (`means`)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def add_metrics(total, metrics):
    """Adds a pytree of sums (a step's metrics, an eval batch's sums) into a running total (None to start)."""
    return metrics if total is None else jax.tree.map(jnp.add, total, metrics)


def masked_sums(per_example: dict, mask) -> dict:
    """per_example: {name: [batch] values}; mask: [batch] float, 1 for real examples and 0 for padding.
    -> {name: sum of value * mask, 'count': sum of mask}."""
    sums = {name: jnp.sum(value * mask) for name, value in per_example.items()}
    sums["count"] = jnp.sum(mask)
    return sums


def means(sums: dict, names=None) -> dict[str, float]:
    """{name: sums[name] / sums['count']} as floats, for `names` (default every sum but 'count')."""
    names = [name for name in sums if name != "count"] if names is None else names
    return {name: float(sums[name] / sums["count"]) for name in names}


def window_means(sums: dict, steps: int, *, every_step=("skipped",)) -> dict[str, float]:
    """Per-step means of a log window's metric sums over `steps` steps.

    Steps skipped for a non-finite loss (counted in 'skipped', their metrics zeroed: `steps.updates`)
    are left out of every mean but those of the `every_step` metrics, which every step records (the
    skip count, which becomes the fraction of the window skipped; float16's loss scales). A window
    whose steps were all skipped has no other mean to give.
    """
    kept = steps - float(sums.get("skipped", 0.0))
    means = {}
    for name, value in sums.items():
        if name in every_step:
            means[name] = float(value) / steps
        elif kept > 0:
            means[name] = float(value) / kept
    return means
