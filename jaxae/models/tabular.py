"""An autoencoder for tables of numeric and categorical columns, one space for both.

Each categorical column is looked up in its own embedding table; the embeddings and the numeric
columns are concatenated and encoded by dense layers to one code. The decoder gives back a value
for each numeric column and logits over each categorical column's categories, so every column is
reconstructed with its own loss (`TabularTrainer.per_example`: squared error, and
`losses.categorical_cross_entropy`). Ordinal columns arrive as numbers.
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from jaxae.models.activations import get_activation
from jaxae.models.initializers import layer_inits


def _through(h, layers, activation: str):
    """h [batch, d] through dense `layers`, each followed by `activation`."""
    act = get_activation(activation)
    for layer in layers:
        h = act(layer(h))
    return h


class TableAutoencoder(nn.Module):
    """Numeric [batch, num_numeric] and categorical [batch, len(cardinalities)] columns <-> codes.

    Attributes:
      num_numeric: how many numeric (and ordinal) columns.
      cardinalities: the number of categories of each categorical column (an unseen category
        takes its column's last id, so a column that held k categories in training has k + 1).
      hidden: the encoder's widths; decoder_hidden the decoder's (default: the encoder's reversed).
      latent_dim: the code size.
      embed_dim: the size of each categorical column's embedding.
      indicators: the encoder also takes which numeric cells it is shown (`shown`, 1 or 0 each), so
        that a hidden or missing cell (entered as 0, its column's mean) is not read as a mean value.
    """

    num_numeric: int
    cardinalities: Sequence[int]
    hidden: Sequence[int]
    latent_dim: int
    embed_dim: int = 4
    decoder_hidden: Sequence[int] = ()
    activation: str = "relu"
    weight_init: str = "he_normal"
    dtype: Any = jnp.float32
    indicators: bool = False

    @property
    def max_categories(self) -> int:
        return max(self.cardinalities, default=1)

    def setup(self):
        dense = lambda width, name, fan_in: nn.Dense(width, dtype=self.dtype, name=name,  # noqa: E731
                                                     **layer_inits(self.weight_init, fan_in))
        columns = len(self.cardinalities)
        self.embeddings = [nn.Embed(card, self.embed_dim, name=f"embed_{i}") for i, card in enumerate(self.cardinalities)]
        widths_in = (self.num_numeric * (1 + self.indicators) + columns * self.embed_dim, *self.hidden)
        self.encoder_layers = [dense(width, f"encoder_hidden_{i}", widths_in[i]) for i, width in enumerate(self.hidden)]
        self.code = dense(self.latent_dim, "code", widths_in[-1])
        widths = tuple(self.decoder_hidden) or tuple(reversed(tuple(self.hidden)))
        widths_in = (self.latent_dim, *widths)
        self.decoder_layers = [dense(width, f"decoder_hidden_{i}", widths_in[i]) for i, width in enumerate(widths)]
        # A table may have no numeric or no categorical columns: no output layer for what it lacks.
        self.numeric_out = dense(self.num_numeric, "numeric", widths_in[-1]) if self.num_numeric else None
        self.categories_out = dense(columns * self.max_categories, "categories", widths_in[-1]) if columns else None

    def encode(self, numeric, categorical, shown=None):
        """numeric [batch, num_numeric] float, categorical [batch, columns] int (and, with
        `indicators`, shown [batch, num_numeric] bool, default all) -> codes [batch, latent_dim]."""
        parts = [numeric.astype(self.dtype)]
        if self.indicators:
            parts.append((jnp.ones(numeric.shape, bool) if shown is None else shown).astype(self.dtype))
        parts += [table(categorical[:, i]).astype(self.dtype) for i, table in enumerate(self.embeddings)]
        h = _through(jnp.concatenate(parts, axis=-1), self.encoder_layers, self.activation)
        return self.code(h).astype(jnp.float32)

    def decode(self, codes):
        """codes [batch, latent_dim] -> (numeric [batch, num_numeric], logits [batch, columns, max_categories]).

        A column's logits beyond its own categories are -inf, so its softmax covers its categories only.
        """
        batch, columns = codes.shape[0], len(self.cardinalities)
        h = _through(codes.astype(self.dtype), self.decoder_layers, self.activation)
        numeric = (self.numeric_out(h).astype(jnp.float32) if self.numeric_out is not None
                   else jnp.zeros((batch, 0), jnp.float32))
        if self.categories_out is None:
            return numeric, jnp.zeros((batch, 0, 1), jnp.float32)
        logits = self.categories_out(h).astype(jnp.float32).reshape(batch, columns, self.max_categories)
        present = jnp.arange(self.max_categories)[None, :] < jnp.asarray(self.cardinalities)[:, None]
        return numeric, jnp.where(present, logits, -jnp.inf)

    def __call__(self, numeric, categorical, shown=None):
        """-> (codes [batch, latent_dim], numeric [batch, num_numeric], logits [batch, columns, max_categories])."""
        codes = self.encode(numeric, categorical, shown)
        return (codes, *self.decode(codes))
