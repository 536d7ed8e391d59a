"""Pure losses: arrays in, one value per example (or per unit) out, keyword-only hyperparameters.

None of these reduce over the batch: weighting (beta, lambda) and the mean happen in the
trainer's loss function. Every function raises ValueError on mismatched shapes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _check_same_shape(a, b, what: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{what}: shapes differ, {a.shape} vs {b.shape}")


def _check_batched(x, what: str) -> None:
    if x.ndim < 1:
        raise ValueError(f"{what}: expected a leading batch axis, got a scalar")


def _per_example_rows(*arrays):
    """[batch, ...] arrays -> the same arrays reshaped to [batch, features], before any element-wise work.

    XLA:CPU vectorises an element-wise loop along its array's minor dimension; on images
    [batch, H, W, 1] that dimension has size 1, and the Bernoulli loss with its gradient ran
    ~1.3 ms slower per vae_mnist step (a fifth of the step) than on [batch, H*W] rows.
    """
    return [x.reshape((x.shape[0], -1)) for x in arrays]


def _sum_per_example(x):
    (rows,) = _per_example_rows(x)
    return jnp.sum(rows, axis=-1)


def _sigmoid_cross_entropy(logits, label):
    """-(t log sigmoid(l) + (1 - t) log(1 - sigmoid(l))) elementwise: max(l, 0) - l t + log(1 + exp(-|l|)),
    the same without overflow for large |l|."""
    return jnp.maximum(logits, 0) - logits * label + jnp.log1p(jnp.exp(-jnp.abs(logits)))


def squared_error(predictions, targets):
    """Sum of squared differences per example.

    Args:
      predictions, targets: [batch, ...] with equal shapes.
    Returns:
      [batch]: sum over all non-batch axes of (predictions - targets)**2.
    """
    _check_same_shape(predictions, targets, "squared_error")
    _check_batched(predictions, "squared_error")
    predictions, targets = _per_example_rows(predictions, targets)
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
    _check_same_shape(predictions, targets, "masked_squared_error")
    _check_same_shape(predictions, observed, "masked_squared_error (observed)")
    _check_batched(predictions, "masked_squared_error")
    predictions, targets, observed = _per_example_rows(predictions, targets, observed)
    # where(), not a product: an unobserved entry is left out of the sum whatever its value.
    return jnp.sum(jnp.where(observed.astype(bool), jnp.square(predictions - targets), 0.0), axis=-1)


def mse(predictions, targets):
    """Mean squared error per example: [batch, ...] x2 -> [batch], the mean over non-batch axes."""
    _check_same_shape(predictions, targets, "mse")
    _check_batched(predictions, "mse")
    return squared_error(predictions, targets) / (predictions.size // predictions.shape[0])


def bce_with_logits(logits, targets):
    """Bernoulli negative log-likelihood in nats per example, from logits; stable for large |logits|.

    Args:
      logits: [batch, ...] decoder outputs before the sigmoid.
      targets: [batch, ...] in [0, 1] (binary, or grey levels for the continuous relaxation).
    Returns:
      [batch]: sum over non-batch axes of -(t log sigmoid(l) + (1 - t) log(1 - sigmoid(l))).
    """
    _check_same_shape(logits, targets, "bce_with_logits")
    _check_batched(logits, "bce_with_logits")
    logits, targets = _per_example_rows(logits, targets)
    return jnp.sum(_sigmoid_cross_entropy(logits, targets), axis=-1)


def gaussian_kl(mu, logvar):
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) in nats per example, in closed form.

    Args:
      mu, logvar: [batch, latent].
    Returns:
      [batch]: 0.5 * sum(exp(logvar) + mu**2 - 1 - logvar).
    """
    _check_same_shape(mu, logvar, "gaussian_kl")
    _check_batched(mu, "gaussian_kl")
    return 0.5 * _sum_per_example(jnp.exp(logvar) + jnp.square(mu) - 1.0 - logvar)


def _kernels(params):
    """The weight matrices and convolution kernels of a Flax parameter tree (biases excluded)."""
    leaves = jax.tree_util.tree_flatten_with_path(params)[0]
    return [leaf for path, leaf in leaves if getattr(path[-1], "key", None) == "kernel"]


def l1_penalty(params):
    """Sum of |w| over every 'kernel' leaf of a parameter tree (biases are not penalised). -> scalar."""
    return sum((jnp.sum(jnp.abs(k)) for k in _kernels(params)), jnp.zeros((), jnp.float32))


def l2_penalty(params):
    """Half the sum of w**2 over every 'kernel' leaf (weight decay's penalty). -> scalar."""
    return sum((0.5 * jnp.sum(jnp.square(k)) for k in _kernels(params)), jnp.zeros((), jnp.float32))


def l1_activity(codes):
    """L1 activity sparsity per example: [batch, latent] -> [batch], sum of |z|."""
    _check_batched(codes, "l1_activity")
    return _sum_per_example(jnp.abs(codes))


def kl_sparsity(mean_activation, *, target: float, eps: float = 1e-6):
    """KL(Bernoulli(target) || Bernoulli(rho_hat)) per hidden unit (Ng's sparse autoencoder).

    The sparsity target constrains each unit's average activation over a batch, so this takes
    that average rather than single examples.

    Args:
      mean_activation: [units], each unit's mean activation over the batch, in (0, 1).
      target: the desired mean activation rho, in (0, 1).
      eps: keeps the logarithms finite when an average reaches 0 or 1.
    Returns:
      [units]: rho log(rho / rho_hat) + (1 - rho) log((1 - rho) / (1 - rho_hat)).
    """
    if not 0.0 < target < 1.0:
        raise ValueError(f"kl_sparsity: target must lie in (0, 1), got {target}")
    rho_hat = jnp.clip(mean_activation, eps, 1.0 - eps)
    return target * jnp.log(target / rho_hat) + (1 - target) * jnp.log((1 - target) / (1 - rho_hat))


# ------------------------------------------------------------------ adversarial losses (GAN family)
# From the discriminator's logits l = D(x) (before the sigmoid). For a pair (real x_i, fake G(z_i)),
# "minimax" is Goodfellow et al.'s game: D minimises -log D(x) - log(1 - D(G(z))), G minimises
# log(1 - D(G(z))) as written (it saturates while D wins); "non_saturating" keeps D's loss and lets
# G minimise -log D(G(z)) instead; "least_squares" is LSGAN's (a, b, c) = (0, 1, 1); "hinge" that
# of SAGAN / BigGAN.

ADVERSARIAL_LOSSES = ("non_saturating", "minimax", "least_squares", "hinge")


def discriminator_loss(real_logits, fake_logits, *, kind: str, real_label: float = 1.0):
    """The discriminator's loss per (real, fake) pair.

    Args:
      real_logits, fake_logits: [batch] logits of real and generated examples.
      kind: one of `ADVERSARIAL_LOSSES`.
      real_label: the target for real examples (below 1 for one-sided label smoothing; the
        cross-entropy and least-squares kinds).
    Returns:
      [batch]: the real example's term plus the fake one's.
    """
    _check_same_shape(real_logits, fake_logits, "discriminator_loss")
    if kind in ("non_saturating", "minimax"):
        return _sigmoid_cross_entropy(real_logits, real_label) + _sigmoid_cross_entropy(fake_logits, 0.0)
    if kind == "least_squares":
        return 0.5 * jnp.square(real_logits - real_label) + 0.5 * jnp.square(fake_logits)
    if kind == "hinge":
        return jax.nn.relu(1.0 - real_logits) + jax.nn.relu(1.0 + fake_logits)
    raise ValueError(f"discriminator_loss: kind {kind!r} is unknown; choose one of {ADVERSARIAL_LOSSES}")


def generator_loss(fake_logits, *, kind: str):
    """The generator's loss per generated example: [batch] logits -> [batch]."""
    _check_batched(fake_logits, "generator_loss")
    if kind == "non_saturating":
        return _sigmoid_cross_entropy(fake_logits, 1.0)  # -log D(G(z))
    if kind == "minimax":
        return -_sigmoid_cross_entropy(fake_logits, 0.0)  # log(1 - D(G(z)))
    if kind == "least_squares":
        return 0.5 * jnp.square(fake_logits - 1.0)
    if kind == "hinge":
        return -fake_logits
    raise ValueError(f"generator_loss: kind {kind!r} is unknown; choose one of {ADVERSARIAL_LOSSES}")


def squared_gradient_norm(gradients):
    """|grad|^2 per example, e.g. the R1 penalty's ||grad_x D(x)||^2: [batch, ...] -> [batch]."""
    _check_batched(gradients, "squared_gradient_norm")
    return _sum_per_example(jnp.square(gradients.astype(jnp.float32)))


def categorical_information(code_logits, codes):
    """InfoGAN's variational lower bound on I(c; G(z, c)) for a uniform categorical code, per example.

    log Q(c | x) + H(c), with H(c) = log K: at most log K, reached when Q recovers the code.

    Args:
      code_logits: [batch, K] Q's logits for the code of each generated example.
      codes: [batch] int, the codes the examples were generated from.
    """
    _check_batched(code_logits, "categorical_information")
    log_q = jax.nn.log_softmax(code_logits.astype(jnp.float32), axis=-1)
    return jnp.take_along_axis(log_q, codes[:, None].astype(jnp.int32), axis=-1)[:, 0] + jnp.log(code_logits.shape[-1])


def uniform_code_information(means, codes, *, low: float = -1.0, high: float = 1.0):
    """The same bound for continuous codes drawn from U(low, high), Q a unit-variance Gaussian
    (InfoGAN's reference code fixes its standard deviation): per example, summed over the codes,
    log N(c; mean, 1) + log(high - low).

    Args:
      means: [batch, J] Q's means; codes: [batch, J] the codes drawn.
    """
    _check_same_shape(means, codes, "uniform_code_information")
    log_q = -0.5 * jnp.log(2 * jnp.pi) - 0.5 * jnp.square(codes - means.astype(jnp.float32))
    return _sum_per_example(log_q + jnp.log(high - low))


def categorical_cross_entropy(logits, categories):
    """Cross-entropy of each categorical column per example, summed over the columns.

    Args:
      logits: [batch, columns, K] (a column's impossible categories may hold -inf).
      categories: [batch, columns] int, each column's true category.
    Returns:
      [batch]: sum over columns of -log softmax(logits)[category].
    """
    _check_batched(logits, "categorical_cross_entropy")
    if logits.shape[:2] != categories.shape:
        raise ValueError(f"categorical_cross_entropy: logits {logits.shape} do not match categories {categories.shape}")
    log_p = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
    chosen = jnp.take_along_axis(log_p, categories[..., None].astype(jnp.int32), axis=-1)[..., 0]
    return -jnp.sum(chosen, axis=-1)


def skipgram_negative_sampling(input_vectors, output_vectors, negative_vectors, negative_weights):
    """word2vec's skip-gram loss with negative sampling, per (input word, output word) pair.

    -log sigmoid(u . v) - sum_k w_k log sigmoid(-u_k . v), where v is the input word's vector, u
    the output word's and u_k the k-th negative's. Pairs come in groups of P that share their output
    word (a centre word and the P context slots of its window), and may share their negatives.

    Args:
      input_vectors: [..., P, d] v, one per pair, from the input table.
      output_vectors: [..., d] u, the group's output word, from the output table.
      negative_vectors: [..., P, k, d] each pair's own u_k, or [..., k, d] shared by the group's pairs.
      negative_weights: [..., P, k] w_k, 1 for a negative and 0 for one to leave out (word2vec skips a
        negative that is the output word itself).
    Returns:
      [..., P] the loss of each pair.
    """
    groups, pairs, negatives = input_vectors.shape[:-2], input_vectors.shape[-2], negative_vectors.shape[-2]
    shared = negative_vectors.ndim == input_vectors.ndim
    if (output_vectors.shape != groups + input_vectors.shape[-1:]
            or negative_vectors.shape[:-2] != (groups if shared else groups + (pairs,))
            or negative_weights.shape != groups + (pairs, negatives)
            or negative_vectors.shape[-1] != input_vectors.shape[-1]):
        raise ValueError(f"skip-gram vectors do not match: input {input_vectors.shape}, output {output_vectors.shape}, "
                         f"negatives {negative_vectors.shape}, weights {negative_weights.shape}")
    positive = jnp.einsum("...pd,...d->...p", input_vectors, output_vectors)
    # Batched matrix products, never a broadcast copy of the shared rows.
    negative = jnp.einsum("...pd,...kd->...pk" if shared else "...pd,...pkd->...pk", input_vectors, negative_vectors)
    return -jax.nn.log_sigmoid(positive) - jnp.sum(negative_weights * jax.nn.log_sigmoid(-negative), axis=-1)
