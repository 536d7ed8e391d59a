"""word2vec's skip-gram loss with negative sampling, per pair."""

from __future__ import annotations

import jax
import jax.numpy as jnp


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
