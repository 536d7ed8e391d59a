"""The one pytree a run carries from step to step, and everything a bit-exact resume needs.

It holds arrays only (no functions), so it can be donated to `jit`, sharded, and saved by Orbax
as it is. ``params`` and ``opt_state`` may be any pytrees, and ``extra`` holds the state that
gradients do not update (the float16 loss scale).
"""

from __future__ import annotations

from typing import Any

import flax.struct
import jax


class TrainState(flax.struct.PyTreeNode):
    """Attributes:
      step: int32 scalar, the number of updates applied so far. The batch order, and every random
        draw of the step (via ``fold_in(key, step)``), are functions of it and the seed.
      key: the run's base PRNG key (uint32 [2]); never advanced, only folded with the step.
      params: trainable parameters.
      opt_state: the optimizer's state for `params`.
      extra: non-gradient state (the loss scale, ...); an empty dict when unused.
    """

    step: jax.Array
    key: jax.Array
    params: Any
    opt_state: Any
    extra: Any = flax.struct.field(default_factory=dict)
