"""The autoencoder family: plain, denoising, sparse, VAE, beta-VAE and IWAE, on the Trainer contract.

It holds one part, the autoencoder core (`trainers.parts.autoencoder`), and trains it alone in one
phase: the family's state is the core's parameters and optimizer state (and the loss scale under
float16), its steps, evals and pictures are the core's.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxae.steps import loss_scaling, optimizers
from jaxae.steps.train_state import TrainState
from jaxae.trainers.base import Trainer
from jaxae.trainers.parts.autoencoder import AutoencoderCore


class AutoencoderTrainer(Trainer):
    """One autoencoder trained on images; `ae` is the core that does the work."""

    every_step_metrics = ("skipped", "loss_scale")  # float16 scales the loss.

    @classmethod
    def validate_config(cls, config) -> None:
        super().validate_config(config)  # The phase's length.
        AutoencoderCore.validate_config(config)

    @classmethod
    def train_fields(cls, config) -> dict[str, str]:
        return {"image": "image"}

    def __init__(self, config, spec, num_examples: int, *, axis_name=None):
        super().__init__(config, spec, num_examples, axis_name=axis_name)
        self.ae = AutoencoderCore(config, spec["image"].shape, optimizer_steps=self.num_steps, axis_name=axis_name)

    def identity(self):
        return self.identity_of(*self.ae.objective_fields()) | optimizers.identity(self.config, self.num_steps)

    def check_data(self, source) -> None:
        self.ae.check_data(source)

    def init(self, key) -> TrainState:
        """key -> a fresh TrainState. Pure: run it under `jit` (or `eval_shape` for the layout)."""
        init_key, state_key = jax.random.split(key)
        params = self.ae.init_params(init_key)
        extra = loss_scaling.initial_state() if self.ae.loss_scaling else {}
        return TrainState(step=jnp.zeros((), jnp.int32), key=state_key, params=params,
                          opt_state=self.ae.tx.init(params), extra=extra)

    def train_step(self, state: TrainState, batch):
        return self.ae.train_step(state, batch)

    def eval_step(self, state: TrainState, batch, mask):
        return self.ae.eval_step(state, batch, mask)

    def eval_report(self, sums) -> dict[str, float]:
        return self.ae.eval_report(sums)

    def pictures(self, state: TrainState, batch, num_samples: int):
        return self.ae.pictures(state, batch, num_samples)

    def inference(self, state, mesh):
        from jaxae.trainers.parts.trained_autoencoder import TrainedAutoencoder

        return TrainedAutoencoder(self.ae, state, mesh)
