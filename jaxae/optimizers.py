"""Optimizers and learning-rate schedules from ``config.optimizer``."""

from __future__ import annotations

import optax

from jaxae.errors import ConfigError

OPTIMIZERS = ("adam", "adamw", "sgd", "momentum")
SCHEDULES = ("constant", "cosine")


def learning_rate_schedule(opt_config, num_steps: int):
    """A constant rate, or linear warm-up then cosine decay to zero over `num_steps`."""
    if opt_config.schedule == "constant":
        return opt_config.learning_rate
    if opt_config.schedule == "cosine":
        return optax.warmup_cosine_decay_schedule(
            0.0, opt_config.learning_rate, opt_config.warmup_steps, max(num_steps, opt_config.warmup_steps + 1))
    raise ConfigError(f"optimizer.schedule={opt_config.schedule!r} is unknown; choose one of {list(SCHEDULES)}")


def build_optimizer(opt_config, num_steps: int) -> optax.GradientTransformation:
    """Builds the optimizer named by `opt_config.name`, with optional global-norm clipping."""
    lr = learning_rate_schedule(opt_config, num_steps)
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
    if opt_config.grad_clip_norm:
        tx = optax.chain(optax.clip_by_global_norm(opt_config.grad_clip_norm), tx)
    return tx
