"""Text corpora for skip-gram: documents, a vocabulary with counts, and the token stream in chunks.

Sources, all offline:

* ``gensim-wiki``: the shortened English Wikipedia dump in gensim's wheel (106 articles, 452,944
  tokens by gensim's `WikiCorpus`) followed by the Lee background corpus (300 documents, 58,152
  tokens): the corpus `benchmarks/sgns.py` compares against gensim's `Word2Vec` on.
* ``gensim-lee``: the Lee background corpus alone.
* ``synthetic``: documents drawn here from a few topics of words (tests and tiny configs).
* a text file of your own (a path): one document per line, tokenised by `tokenize`.

gensim (``pip install 'jaxae[text]'``) is needed for the two gensim sources only; jaxae ships
none of its data.

The vocabulary keeps the words seen at least `min_count` times, most frequent first (ties in
order of first appearance), as gensim orders it; other words are dropped from the documents before
any window is formed, as in word2vec. The kept stream is cut into chunks of `chunk_length` tokens,
documents packed one after another:

  tokens   ids [chunk_length] int32: word ids, 0 in padding
  segment  ids [chunk_length] int32: 1, 2, ... for the pieces of documents within the chunk, 0 in
           padding; a context window never crosses a segment, so no pair spans two documents
           (or a chunk's end, as word2vec.c's 1,000-word sentences cut long documents).
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from jaxae.config import checks
from jaxae.data.files import content_hash
from jaxae.errors import DataError

GENSIM_WIKI = "gensim-wiki"
GENSIM_LEE = "gensim-lee"
SYNTHETIC = "synthetic"
NAMED_SOURCES = (GENSIM_WIKI, GENSIM_LEE, SYNTHETIC)
GENSIM_INSTALL = "pip install 'jaxae[text]'"
WIKI_FILE = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"

# Letters (any script, no digits), as gensim's simple_preprocess takes them; 2 to 15 characters.
_WORD = re.compile(r"(?:(?!\d)\w)+", re.UNICODE)


def tokenize(text: str, *, min_length: int = 2, max_length: int = 15) -> list[str]:
    """Lower-cased runs of letters of `min_length` to `max_length` characters (gensim's
    `simple_preprocess` without accent stripping)."""
    return [word for word in _WORD.findall(text.lower()) if min_length <= len(word) <= max_length]


def gensim_datapath(name: str) -> str:
    """The path of a file in gensim's test data; DataError naming the install when gensim is absent."""
    try:
        from gensim.test.utils import datapath
    except ImportError:
        raise DataError(f"the corpus {name!r} is read from gensim's wheel, which is not installed: "
                        f"{GENSIM_INSTALL}") from None
    return datapath(name)


def read_documents(source: str) -> list[list[str]]:
    """The documents of `source` (see the module docstring), each a list of tokens."""
    if source == GENSIM_WIKI:
        return _wikipedia_articles(gensim_datapath(WIKI_FILE)) + read_documents(GENSIM_LEE)
    if source == GENSIM_LEE:
        return _read_lines(gensim_datapath("lee_background.cor"))
    if source == SYNTHETIC:
        return synthetic()
    return _read_lines(source)


def _wikipedia_articles(path: str) -> list[list[str]]:
    """The articles of a Wikipedia dump as gensim's `WikiCorpus(path).get_texts()` gives them, read
    in this process: WikiCorpus forks a worker pool, which can deadlock a process running JAX."""
    import bz2

    from gensim.corpora import wikicorpus

    articles = []
    with bz2.BZ2File(path) as dump:
        for title, text, page_id in wikicorpus.extract_pages(dump, filter_namespaces=("0",)):
            tokens, title, _ = wikicorpus.process_article((text, title, page_id))
            # WikiCorpus's own filter: stubs, redirects and pages of other namespaces are pruned.
            if len(tokens) >= wikicorpus.ARTICLE_MIN_WORDS and not any(
                    title.startswith(namespace + ":") for namespace in wikicorpus.IGNORED_NAMESPACES):
                articles.append(tokens)
    return articles


def _read_lines(path: str) -> list[list[str]]:
    try:
        with open(path, encoding="utf-8") as handle:
            documents = [tokenize(line) for line in handle]
    except OSError as error:
        raise DataError(f"cannot read the corpus file {path!r}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise DataError(f"the corpus file {path!r} is not UTF-8 text (byte {error.start})") from None
    documents = [document for document in documents if document]
    if not documents:
        raise DataError(f"the corpus file {path!r} holds no words")
    return documents


def synthetic(num_topics: int = 6, words_per_topic: int = 30, num_documents: int = 240, length: int = 60,
              seed: int = 0) -> list[list[str]]:
    """Documents that each mix two topics; a topic's words ('t3w17') co-occur, so they end up similar.

    Word frequencies within a topic follow Zipf's law, so subsampling and min_count have work to do.
    """
    rng = np.random.default_rng(seed)
    zipf = 1.0 / np.arange(1, words_per_topic + 1)
    zipf /= zipf.sum()
    documents = []
    for _ in range(num_documents):
        topics = rng.choice(num_topics, size=2, replace=False)
        picks = rng.choice(topics, size=length, p=[0.7, 0.3])
        documents.append([f"t{topic}w{rng.choice(words_per_topic, p=zipf)}" for topic in picks])
    return documents


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """words [V] str and counts [V] int64, most frequent first."""

    words: np.ndarray
    counts: np.ndarray

    def __len__(self) -> int:
        return len(self.words)

    def ids(self, document: list[str]) -> np.ndarray:
        """[n] int32 ids of the document's words in the vocabulary (others dropped)."""
        index = self.index
        return np.asarray([index[word] for word in document if word in index], np.int32)

    @property
    def index(self) -> dict[str, int]:
        if "_index" not in self.__dict__:
            object.__setattr__(self, "_index", {str(word): i for i, word in enumerate(self.words)})
        return self.__dict__["_index"]


def build_vocabulary(documents: list[list[str]], *, min_count: int) -> Vocabulary:
    """Words seen at least `min_count` times, by count descending (ties: first appearance first)."""
    counts: dict[str, int] = {}
    for document in documents:
        for word in document:
            counts[word] = counts.get(word, 0) + 1
    kept = [(word, count) for word, count in counts.items() if count >= min_count]
    if not kept:
        raise DataError(f"no word occurs min_count={min_count} times in the corpus ({len(counts)} distinct words)")
    kept.sort(key=lambda pair: -pair[1])  # Stable: ties keep their first-appearance order.
    return Vocabulary(np.asarray([word for word, _ in kept]), np.asarray([count for _, count in kept], np.int64))


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """[V] float64: the chance that word2vec keeps an occurrence of each word when subsampling.

    With t = sample * (total count), a word of count c is kept with probability
    min(1, (sqrt(c / t) + 1) * t / c) (word2vec.c and gensim); sample = 0 keeps every word.
    """
    counts = np.asarray(counts, np.float64)
    if sample <= 0:
        return np.ones_like(counts)
    threshold = sample * counts.sum()
    return np.minimum(1.0, (np.sqrt(counts / threshold) + 1.0) * threshold / counts)


def negative_distribution(counts: np.ndarray, power: float = 0.75) -> np.ndarray:
    """[V] float64: the probability of drawing each word as a negative, count^power normalised."""
    weights = np.power(np.asarray(counts, np.float64), power)
    return weights / weights.sum()


# The integer range negatives are drawn in, as gensim's cum_table: exact integer arithmetic on the
# device (int32), where a float32 cumulative sum would lose the rarest words of a large vocabulary.
NEGATIVE_TABLE_DOMAIN = 2**31 - 1


def negative_table(counts: np.ndarray, power: float = 0.75) -> np.ndarray:
    """[V] int32 cumulative table: a uniform integer r in [0, table[-1]) falls to word i when
    table[i-1] <= r < table[i], i.e. with `negative_distribution`'s probability (rounded to 1/2^31)."""
    cumulative = np.cumsum(negative_distribution(counts, power))
    return np.round(cumulative * NEGATIVE_TABLE_DOMAIN).astype(np.int64).clip(0, NEGATIVE_TABLE_DOMAIN).astype(np.int32)


def pack_chunks(documents_ids: list[np.ndarray], chunk_length: int) -> dict[str, np.ndarray]:
    """Documents' ids -> {'tokens', 'segment'}: [chunks, chunk_length] int32, packed in order."""
    stream = [ids for ids in documents_ids if len(ids)]
    if not stream:
        raise DataError("the corpus holds no word of the vocabulary")
    tokens = np.concatenate(stream)
    document = np.repeat(np.arange(len(stream)), [len(ids) for ids in stream])
    num_chunks = -(-len(tokens) // chunk_length)
    padded = num_chunks * chunk_length
    token_grid = np.zeros(padded, np.int32)
    token_grid[: len(tokens)] = tokens
    document_grid = np.full(padded, -1, np.int64)
    document_grid[: len(tokens)] = document
    token_grid, document_grid = token_grid.reshape(num_chunks, chunk_length), document_grid.reshape(num_chunks, chunk_length)
    # Within a chunk, number the pieces of documents 1, 2, ... in order; padding is 0.
    starts = np.ones_like(document_grid, bool)
    starts[:, 1:] = document_grid[:, 1:] != document_grid[:, :-1]
    segment = np.cumsum(starts, axis=1).astype(np.int32)
    segment[document_grid < 0] = 0
    return {"tokens": token_grid, "segment": segment}


def source_tag(source: str) -> str:
    """A short name for `source`: 'wiki', 'lee', 'synthetic', or 'text-<sha of the file>'."""
    if source in NAMED_SOURCES:
        return source.removeprefix("gensim-")
    return "text-" + content_hash(source, "the corpus file")


def validate_options(config) -> None:
    """Checks `data.corpus` (when the data section has one): source, min_count, chunk_length."""
    if "corpus" not in config.data:
        return
    checks.named_or_file(config, "data.corpus.source", NAMED_SOURCES, what="a text file's path")
    checks.number(config, "data.corpus.min_count", low=1, integer=True)
    checks.number(config, "data.corpus.chunk_length", low=2, integer=True)
