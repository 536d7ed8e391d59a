"""A trained skip-gram model as `jaxae.load` returns it: its two tables, and named embeddings."""

from __future__ import annotations

import numpy as np

from jaxae.devices import parallel
from jaxae.embeddings import Embeddings
from jaxae.errors import DataError
from jaxae.trainers.base import TrainedModel


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

    def embeddings(self, words) -> Embeddings:
        """The input vectors named by `words` [V], the vocabulary in id order (the training
        source's metadata 'words'; or read `<workdir>/embeddings.txt` with `Embeddings.load_word2vec_format`)."""
        if len(words) != len(self.input_vectors):
            raise DataError(f"{len(words)} words for a vocabulary of {len(self.input_vectors)}")
        return Embeddings(words, np.asarray(self.input_vectors))
