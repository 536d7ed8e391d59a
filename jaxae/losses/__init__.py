"""Pure losses: arrays in, one value per example (or per unit) out, keyword-only hyperparameters.

None of these reduce over the batch: weighting (beta, lambda) and the mean happen in the
trainer's loss function. Every function raises ValueError on mismatched shapes.

Modules by topic: reconstruction, variational, penalties, adversarial, skipgram, and likelihood
(the importance-weighted log-likelihood). The names below are the public ones.
"""

from jaxae.losses.penalties import kl_sparsity, l1_activity, l1_penalty, l2_penalty
from jaxae.losses.reconstruction import bce_with_logits, categorical_cross_entropy, masked_squared_error, mse, squared_error
from jaxae.losses.variational import gaussian_kl
from jaxae.losses.adversarial import (ADVERSARIAL_LOSSES, categorical_information, discriminator_loss, generator_loss,
                                      squared_gradient_norm, uniform_code_information)
from jaxae.losses.skipgram import skipgram_negative_sampling

__all__ = ["squared_error", "masked_squared_error", "mse", "bce_with_logits", "categorical_cross_entropy", "gaussian_kl",
           "l1_penalty", "l2_penalty", "l1_activity", "kl_sparsity", "ADVERSARIAL_LOSSES", "discriminator_loss",
           "generator_loss", "squared_gradient_norm", "categorical_information", "uniform_code_information",
           "skipgram_negative_sampling"]
