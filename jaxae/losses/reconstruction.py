"""Reconstruction losses per example: squared error (masked to the observed entries), Bernoulli
cross-entropy from logits, and the categorical cross-entropy of a table's columns."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxae.losses._shapes import check_batched, check_same_shape, per_example_rows, sigmoid_cross_entropy


def squared_error(predictions, targets):
    """Sum of squared differences per example.

    Args:
      predictions, targets: [batch, ...] with equal shapes.
    Returns:
      [batch]: sum over all non-batch axes of (predictions - targets)**2.
    """
    check_same_shape(predictions, targets, "squared_error")
    check_batched(predictions, "squared_error")
    predictions, targets = per_example_rows(predictions, targets)
    return jnp.sum(jnp.square(predictions - targets), axis=-1)


def masked_squared_error(predictions, targets, observed):
    """Sum of squared differences per example over the observed entries only (AutoRec's loss).

    Args:
      predictions, targets: [batch, ...] with equal shapes.
      observed: [batch, ...] 1 (or True) where the target exists, 0 elsewhere. An unobserved
        entry contributes exactly nothing, to the value and to the gradient, whatever its target.
    Returns:
      [batch]: sum over the observed entries of (predictions - targets)**2.
    """
    check_same_shape(predictions, targets, "masked_squared_error")
    check_same_shape(predictions, observed, "masked_squared_error (observed)")
    check_batched(predictions, "masked_squared_error")
    predictions, targets, observed = per_example_rows(predictions, targets, observed)
    # where(), not a product: an unobserved entry is left out of the sum whatever its value.
    return jnp.sum(jnp.where(observed.astype(bool), jnp.square(predictions - targets), 0.0), axis=-1)


def mse(predictions, targets):
    """Mean squared error per example: [batch, ...] x2 -> [batch], the mean over non-batch axes."""
    check_same_shape(predictions, targets, "mse")
    check_batched(predictions, "mse")
    return squared_error(predictions, targets) / (predictions.size // predictions.shape[0])


def bce_with_logits(logits, targets):
    """Bernoulli negative log-likelihood in nats per example, from logits; stable for large |logits|.

    Args:
      logits: [batch, ...] decoder outputs before the sigmoid.
      targets: [batch, ...] in [0, 1] (binary, or grey levels for the continuous relaxation).
    Returns:
      [batch]: sum over non-batch axes of -(t log sigmoid(l) + (1 - t) log(1 - sigmoid(l))).
    """
    check_same_shape(logits, targets, "bce_with_logits")
    check_batched(logits, "bce_with_logits")
    logits, targets = per_example_rows(logits, targets)
    return jnp.sum(sigmoid_cross_entropy(logits, targets), axis=-1)


def categorical_cross_entropy(logits, categories, observed=None):
    """Cross-entropy of each categorical column per example, summed over the (observed) columns.

    Args:
      logits: [batch, columns, K] (a column's impossible categories may hold -inf).
      categories: [batch, columns] int, each column's true category.
      observed: optional [batch, columns] bool, False where a cell is missing: it contributes
        exactly nothing, to the value and to the gradient, whatever its category.
    Returns:
      [batch]: sum over the (observed) columns of -log softmax(logits)[category].
    """
    check_batched(logits, "categorical_cross_entropy")
    if logits.shape[:2] != categories.shape:
        raise ValueError(f"categorical_cross_entropy: logits {logits.shape} do not match categories {categories.shape}")
    log_p = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
    chosen = jnp.take_along_axis(log_p, categories[..., None].astype(jnp.int32), axis=-1)[..., 0]
    if observed is not None:
        check_same_shape(categories, observed, "categorical_cross_entropy (observed)")
        chosen = jnp.where(observed.astype(bool), chosen, 0.0)
    return -jnp.sum(chosen, axis=-1)
