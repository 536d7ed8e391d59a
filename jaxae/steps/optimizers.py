"""Optimizers and learning-rate schedules from an optimizer config section, its checks and identity."""

from __future__ import annotations

import optax

from jaxae.config import checks
from jaxae.errors import ConfigError

OPTIMIZERS = ("adam", "adamw", "sgd", "momentum")
SCHEDULES = ("constant", "cosine")
PER_PIXEL = ("sgd", "momentum")  # The optimizers whose step scales with the loss: per-pixel rates make sense.


def validate(config, field: str = "optimizer") -> None:
    """Checks every hyperparameter of the optimizer section `field` (a family may have several sections)."""
    checks.choice(config, f"{field}.name", OPTIMIZERS)
    checks.choice(config, f"{field}.schedule", SCHEDULES)
    checks.number(config, f"{field}.learning_rate", low=0, low_open=True)
    checks.number(config, f"{field}.warmup_steps", low=0, integer=True)
    for name in ("b1", "b2", "momentum"):
        checks.number(config, f"{field}.{name}", low=0, high=1, high_open=True)
    checks.number(config, f"{field}.eps", low=0, low_open=True)
    checks.number(config, f"{field}.weight_decay", low=0)
    checks.number(config, f"{field}.grad_clip_norm", low=0)
    if "per_pixel" in checks.get(config, field):  # Absent from configs written before it existed.
        checks.boolean(config, f"{field}.per_pixel")
        if checks.get(config, f"{field}.per_pixel") and checks.get(config, f"{field}.name") not in PER_PIXEL:
            raise ConfigError(f"{field}.per_pixel=True is for {list(PER_PIXEL)}, whose step grows with the loss's "
                              f"scale; {field}.name={checks.get(config, f'{field}.name')!r} takes the same step at any "
                              f"scale: set {field}.per_pixel=False")


def identity(config, num_steps: int, field: str = "optimizer") -> dict:
    """What a resume must not change: the optimizer (its state's layout) and a schedule's horizon.

    The learning rate, betas, eps, weight decay, momentum and clipping may change on resume
    (e.g. a lower rate after a non-finite stop): the state's layout does not depend on them.
    """
    section = checks.get(config, field)
    record = {f"{field}.name": section.name, f"{field}.schedule": section.schedule}
    if section.schedule != "constant":
        record |= {f"{field}.warmup_steps": section.warmup_steps, f"{field}.schedule_steps": num_steps}
    return record


def learning_rate_schedule(opt_config, num_steps: int):
    """A constant rate, or linear warm-up then cosine decay to zero over `num_steps`."""
    if opt_config.schedule == "constant":
        return opt_config.learning_rate
    if opt_config.schedule == "cosine":
        return optax.warmup_cosine_decay_schedule(
            0.0, opt_config.learning_rate, opt_config.warmup_steps, max(num_steps, opt_config.warmup_steps + 1))
    raise ConfigError(f"optimizer.schedule={opt_config.schedule!r} is unknown; choose one of {list(SCHEDULES)}")


def build_optimizer(opt_config, num_steps: int, values_per_example: int | None = None) -> optax.GradientTransformation:
    """The optimizer named by `opt_config.name` after global-norm clipping (none when `grad_clip_norm` is 0).

    values_per_example: the values an example's loss is summed over (H * W * C of an image), for
      a section with `per_pixel=True` (SGD only: `validate` refuses it for Adam, whose step does not
      grow with the loss): its learning rate is then per value, divided by this count, so that SGD
      takes the same step on 8x8 digits, 28x28 digits or 32x32 colour images. None for a loss that
      is not such a sum, which refuses `per_pixel=True`.
    """
    lr = learning_rate_schedule(opt_config, num_steps)
    if opt_config.get("per_pixel", False):
        if values_per_example is None:
            raise ConfigError("optimizer.per_pixel=True is for the optimizer of a reconstruction summed over an "
                              "image's values; this one trains another loss: set it to False")
        lr = _divided(lr, values_per_example)
    name = opt_config.name
    if name == "adam":
        tx = optax.adam(lr, b1=opt_config.b1, b2=opt_config.b2, eps=opt_config.eps)
    elif name == "adamw":
        tx = optax.adamw(lr, b1=opt_config.b1, b2=opt_config.b2, eps=opt_config.eps,
                         weight_decay=opt_config.weight_decay)
    elif name == "sgd":
        tx = optax.sgd(lr)
    elif name == "momentum":
        tx = optax.sgd(lr, momentum=opt_config.momentum, nesterov=True)
    else:
        raise ConfigError(f"optimizer.name={name!r} is unknown; choose one of {list(OPTIMIZERS)}")
    # Clipping or its stand-in, with the same (empty) state: turning clipping on when resuming does
    # not change the optimizer state's layout. No clip at infinity instead: it computes the norm
    # and selects, which changes XLA's fusion of the update and its float rounding.
    clip = optax.clip_by_global_norm(opt_config.grad_clip_norm) if opt_config.grad_clip_norm else optax.identity()
    return optax.chain(clip, tx)


def _divided(rate, count: int):
    """A rate or a schedule divided by `count`."""
    return (lambda step: rate(step) / count) if callable(rate) else rate / count
