"""A trained skip-gram model as `jaxae.load` returns it: its two tables, and named embeddings."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from jaxae.devices import parallel
from jaxae.embeddings import Embeddings
from jaxae.errors import DataError
from jaxae.trainers.base import ExportedPart, TrainedModel


class TrainedSkipGram(TrainedModel):
    """The tables of a skip-gram run, on the host.

    Attributes:
      config, step; input_vectors [V, d] (the word vectors a run writes out); output_vectors [V, d]
      (the context vectors the loss scores them against).
    """

    input_fields = ()
    offers = frozenset({"embeddings"})

    def __init__(self, trainer, state):
        self.config, self.step = trainer.config, int(state.step)
        tables = parallel.fetch_to_host(state.params)
        self.input_vectors = tables["input"][: trainer.vocab_size]
        self.output_vectors = tables["output"][: trainer.vocab_size]

    def parts(self) -> dict[str, ExportedPart]:
        """encoder: word ids [b] int32 (the vocabulary's order, as in `<workdir>/embeddings.txt`) ->
        their input vectors [b, d]; an id outside the vocabulary gives NaN, not another word's vector."""
        return {"encoder": ExportedPart("embeddings", _vectors_of, (self.input_vectors,), {"word": ((), "int32")},
                                        ("vector",))}

    def embeddings(self, words) -> Embeddings:
        """The input vectors named by `words` [V], the vocabulary in id order (the training
        source's metadata 'words'; or read `<workdir>/embeddings.txt` with `Embeddings.load_word2vec_format`)."""
        if len(words) != len(self.input_vectors):
            raise DataError(f"{len(words)} words for a vocabulary of {len(self.input_vectors)}")
        return Embeddings(words, np.asarray(self.input_vectors))


def _vectors_of(vectors, batch):
    """{'vector': [b, d]} the rows of `vectors` [V, d] that `batch['word']` [b] names (NaN outside [0, V))."""
    vectors, words = jnp.asarray(vectors), batch["word"]
    known = (words >= 0) & (words < vectors.shape[0])  # Explicit: indexing would wrap negative ids round.
    return {"vector": jnp.where(known[:, None], vectors[jnp.clip(words, 0, vectors.shape[0] - 1)], jnp.nan)}
