"""Skip-gram training pairs drawn on the device from chunks of a corpus (`jaxae.data.corpus`).

word2vec's sampling, as jitted array code over one chunk at a time (vmap it over a batch):

1. subsampling: each occurrence of word w is kept with probability keep[w]
   (`corpus.keep_probabilities`), and the kept words close ranks, so a window reaches past the
   dropped ones, as in word2vec;
2. a dynamic window: each centre word's window is drawn uniformly from 1..window words a side;
3. negatives: k words from the unigram^0.75 distribution (`corpus.negative_table`) for each pair,
   as word2vec draws them, or for each centre word, shared by its window's pairs; a negative that
   is the pair's output word is left out, as word2vec skips it.

Following word2vec.c and gensim, the *context* word is the input (its row of the input table) and
the centre word the output, with the negatives. Pairs are not listed: a chunk's words sit at
positions, and centre i's context slot n is the word at i + `context_offsets`[n], so a step
gathers each position's table rows once and moves them to the slots with static slices
(`gather_offsets`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def subsample(key, tokens, segment, keep_probability):
    """Drops occurrences by `keep_probability` [V] and closes ranks.

    Args:
      tokens, segment: [length] int32 one chunk (segment 0 marks padding).
    Returns:
      (tokens, segment) [length]: the kept words first, in order, then padding (both 0).
    """
    keep = (segment > 0) & (jax.random.uniform(key, tokens.shape) < keep_probability[tokens])
    order = jnp.argsort(~keep, stable=True)
    kept = keep[order]
    return jnp.where(kept, tokens[order], 0), jnp.where(kept, segment[order], 0)


def context_offsets(window: int) -> tuple[int, ...]:
    """The offsets of a centre's context slots: -window..-1, 1..window."""
    return tuple(range(-window, 0)) + tuple(range(1, window + 1))


def gather_offsets(x, window: int):
    """x [length, ...] -> [length, 2 * window, ...]: out[i, n] = x[i + offset n], 0 beyond the chunk.

    Static slices of a padded copy: a context's vector comes from the chunk's own rows (each word's
    table row is gathered once per position, not once per pair), and the transpose is as cheap.
    """
    length = x.shape[0]
    padded = jnp.pad(x, [(window, window)] + [(0, 0)] * (x.ndim - 1))
    return jnp.stack([padded[window + offset: window + offset + length] for offset in context_offsets(window)], axis=1)


def scatter_offsets(y, window: int):
    """The transpose of `gather_offsets`: y [length, 2 * window, ...] -> [length, ...],
    out[j] = sum over n of y[j - offset n, n] (what each position receives as a context)."""
    length = y.shape[0]
    total = jnp.zeros((length + 2 * window,) + y.shape[2:], y.dtype)
    for n, offset in enumerate(context_offsets(window)):
        total = total.at[window + offset: window + offset + length].add(y[:, n])
    return total[window: window + length]


def window_pairs(key, segment, window: int):
    """Which of each centre word's context slots are pairs, by word2vec's dynamic window.

    Args:
      segment: [length] int32 one chunk's segments (after `subsample`; 0 marks padding).
    Returns:
      is_pair [length, 2 * window] bool: the slot's offset lies within the centre's drawn window
      (1..window words a side, uniformly), inside the chunk, in the centre's segment, and the
      centre is not padding. Slot n of centre i holds the word at i + `context_offsets`[n].
    """
    length = segment.shape[0]
    reach = jax.random.randint(key, (length,), 1, window + 1)
    distance = jnp.abs(jnp.asarray(context_offsets(window)))
    context_segment = gather_offsets(segment, window)  # 0 beyond the chunk, as padding is.
    return (distance[None, :] <= reach[:, None]) & (context_segment == segment[:, None]) & (segment[:, None] > 0)


def draw_negatives(key, table, shape):
    """`shape` int32 word ids drawn by the cumulative `table` [V] (`corpus.negative_table`)."""
    draws = jax.random.randint(key, shape, 0, table[-1])
    return jnp.minimum(jnp.searchsorted(table, draws, side="right"), table.shape[0] - 1).astype(jnp.int32)


def chunk_pairs(key, tokens, segment, keep_probability, table, *, window: int, negatives: int,
                shared_negatives: bool = False):
    """One chunk's training pairs: the three steps above.

    shared_negatives: draw k negatives per centre word, which all its window's pairs use, rather
      than k per pair: the same expected gradient from far fewer table rows.
    Returns:
      {'tokens' [length]: the kept words, in order, then padding (0);
       'pair' [length, 2w] float32: 1 where slot n of centre i (the word at i + offset n) is a pair;
       'negative' [length, 2w, k] int32 word ids ([length, k] when shared);
       'negative_weight' [length, 2w, k] float32: 1 for a negative of a pair, 0 for none or the
       centre word itself}.
    """
    subsample_key, window_key, negative_key = jax.random.split(key, 3)
    tokens, segment = subsample(subsample_key, tokens, segment, keep_probability)
    is_pair = window_pairs(window_key, segment, window)
    length = tokens.shape[0]
    drawn = draw_negatives(negative_key, table, (length, negatives) if shared_negatives else (length, 2 * window, negatives))
    differs = drawn != (tokens[:, None] if shared_negatives else tokens[:, None, None])
    negative_weight = is_pair[..., None] & (differs[:, None, :] if shared_negatives else differs)
    return {"tokens": tokens, "pair": is_pair.astype(jnp.float32), "negative": drawn,
            "negative_weight": negative_weight.astype(jnp.float32)}
