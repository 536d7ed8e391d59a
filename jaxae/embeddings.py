"""Reading an embedding space: named vectors (words, items, users, image codes) and what they say.

`Embeddings(names, vectors)` answers the questions asked of word2vec's spaces, for any of them:
cosine `similarity`, `most_similar` (by a name, a vector, or an analogy's 3CosAdd), analogies by
3CosMul (Levy and Goldberg, 2014), the `soft_cosine` of two bags of names, and the word2vec text
format (``<count> <dimensions>`` then ``name v1 v2 ...`` per line), which gensim's
``KeyedVectors.load_word2vec_format`` reads. Queries run in NumPy on unit vectors: one matrix
product against the vocabulary per query, which for vocabularies up to ~10^6 x 300 is faster than
moving the table to a device. The values follow gensim's definitions, so the two agree.
"""

from __future__ import annotations

import os
from typing import Iterable, Sequence

import numpy as np

from jaxae.errors import DataError

COSMUL_EPSILON = 1e-6  # 3CosMul's guard against a zero denominator (gensim's and Levy and Goldberg's value).


class Embeddings:
    """Vectors [n, dimensions] by name.

    Args:
      names: n distinct strings without whitespace (the text format separates by spaces).
      vectors: [n, dimensions] finite numbers, kept as float32.
    """

    def __init__(self, names: Sequence[str], vectors):
        self.names = [str(name) for name in names]
        self.vectors = np.asarray(vectors, np.float32)
        if self.vectors.ndim != 2 or len(self.names) != len(self.vectors):
            raise DataError(f"embeddings need [n, dimensions] vectors for n names; got {len(self.names)} names and "
                            f"vectors of shape {self.vectors.shape}")
        if not np.all(np.isfinite(self.vectors)):
            raise DataError(f"embedding {self.names[int(np.argwhere(~np.isfinite(self.vectors))[0, 0])]!r} is not finite")
        self.index = {name: row for row, name in enumerate(self.names)}
        if len(self.index) != len(self.names):
            seen = set()
            repeated = next(name for name in self.names if name in seen or seen.add(name))
            raise DataError(f"embedding names must be distinct; {repeated!r} repeats")
        bad = next((name for name in self.names if not name or any(c.isspace() for c in name)), None)
        if bad is not None:
            raise DataError(f"embedding name {bad!r} is empty or holds whitespace, which the text format cannot store")
        norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
        self.unit = self.vectors / np.where(norms > 0, norms, 1)

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, name) -> bool:
        return name in self.index

    def __getitem__(self, name: str) -> np.ndarray:
        return self.vectors[self.row(name)]

    def row(self, name: str) -> int:
        try:
            return self.index[name]
        except KeyError:
            raise KeyError(f"{name!r} is not among the {len(self)} embedded names") from None

    def similarity(self, a: str, b: str) -> float:
        """The cosine of the angle between two names' vectors."""
        return float(self.unit[self.row(a)] @ self.unit[self.row(b)])

    def _ranked(self, scores: np.ndarray, exclude: Iterable[int], topn: int) -> list[tuple[str, float]]:
        scores = scores.copy()
        scores[list(exclude)] = -np.inf
        best = np.argsort(-scores, kind="stable")[:topn]
        return [(self.names[i], float(scores[i])) for i in best if np.isfinite(scores[i])]

    def most_similar(self, positive=(), negative=(), topn: int = 10) -> list[tuple[str, float]]:
        """The `topn` names nearest by cosine to the mean of the positive unit vectors minus the
        negative ones (3CosAdd for an analogy: a is to b as c is to ? is positive=[b, c],
        negative=[a]), the query's names left out. A vector may stand for a name; as in gensim, it
        enters as given, not scaled to unit length."""
        positive, negative = _as_list(positive), _as_list(negative)
        if not positive and not negative:
            raise ValueError("most_similar needs at least one positive or negative name or vector")
        terms = [(item, 1.0) for item in positive] + [(item, -1.0) for item in negative]
        query = np.mean([weight * self._query_vector(item) for item, weight in terms], axis=0)
        query /= max(np.linalg.norm(query), 1e-12)
        exclude = [self.row(item) for item, _ in terms if isinstance(item, str)]
        return self._ranked(self.unit @ query, exclude, topn)

    def most_similar_cosmul(self, positive=(), negative=(), topn: int = 10) -> list[tuple[str, float]]:
        """3CosMul: the names b* that maximise prod cos'(b*, p) / (prod cos'(b*, n) + 1e-6) over the
        positive p and negative n, with cos' = (1 + cos) / 2 in [0, 1]; the query's names left out.
        A vector may stand for a name (as given, as in gensim: then cos is b* . v / |b*|)."""
        positive, negative = _as_list(positive), _as_list(negative)
        if not positive:
            raise ValueError("most_similar_cosmul needs at least one positive name or vector")
        shifted = lambda item: (1 + self.unit @ self._query_vector(item)) / 2
        numerator = np.prod([shifted(item) for item in positive], axis=0)
        denominator = np.prod([shifted(item) for item in negative], axis=0) if negative else 1.0
        exclude = [self.row(item) for item in positive + negative if isinstance(item, str)]
        return self._ranked(numerator / (denominator + COSMUL_EPSILON), exclude, topn)

    def analogy(self, a: str, b: str, c: str, *, method: str = "add") -> str:
        """a is to b as c is to ...: the best name by 3CosAdd ('add') or 3CosMul ('mul')."""
        if method not in ("add", "mul"):
            raise ValueError(f"method={method!r} must be 'add' (3CosAdd) or 'mul' (3CosMul)")
        search = self.most_similar if method == "add" else self.most_similar_cosmul
        return search(positive=[b, c], negative=[a], topn=1)[0][0]

    def term_similarity(self, names: Sequence[str], *, threshold: float = 0.0, exponent: float = 2.0) -> np.ndarray:
        """[k, k] the soft cosine's term matrix over `names`, as gensim's `WordEmbeddingSimilarityIndex`
        defines it: s_ij = cos(i, j)^exponent where cos(i, j) > threshold >= 0, else 0; 1 on the diagonal."""
        if threshold < 0:
            raise ValueError(f"threshold={threshold} must be >= 0 (a negative cosine has no real power)")
        unit = self.unit[[self.row(name) for name in names]]
        cosines = unit @ unit.T
        matrix = np.where(cosines > threshold, np.maximum(cosines, 0) ** exponent, 0.0)
        np.fill_diagonal(matrix, 1.0)
        return matrix

    def soft_cosine(self, first: Sequence[str], second: Sequence[str], *, threshold: float = 0.0,
                    exponent: float = 2.0) -> float:
        """The soft cosine (Sidorov et al., 2014) of two bags of names, x'Sy / sqrt(x'Sx y'Sy), with
        S from `term_similarity`: 1 for the same bag, the plain cosine of the counts when no two
        names are alike, and more than it when different names have near vectors."""
        vocabulary = sorted(set(first) | set(second))
        position = {name: i for i, name in enumerate(vocabulary)}
        x, y = np.zeros(len(vocabulary)), np.zeros(len(vocabulary))
        np.add.at(x, [position[name] for name in first], 1)
        np.add.at(y, [position[name] for name in second], 1)
        matrix = self.term_similarity(vocabulary, threshold=threshold, exponent=exponent)
        norms = np.sqrt((x @ matrix @ x) * (y @ matrix @ y))
        return float(x @ matrix @ y / norms) if norms > 0 else 0.0

    def _query_vector(self, item) -> np.ndarray:
        """A name's unit vector, or a query vector as given."""
        if isinstance(item, str):
            return self.unit[self.row(item)]
        vector = np.asarray(item, np.float32)
        if vector.shape != self.vectors.shape[1:]:
            raise ValueError(f"a query vector must have {self.vectors.shape[1]} dimensions; got shape {vector.shape}")
        return vector

    def save_word2vec_format(self, path: str) -> None:
        """Writes the word2vec text format to `path` (through a temporary file, so a failed write
        leaves no half file): a header line, then each name and its numbers to float32 precision."""
        temporary = f"{path}.tmp-{os.getpid()}"
        try:
            with open(temporary, "w", encoding="utf-8") as out:
                out.write(f"{len(self)} {self.vectors.shape[1]}\n")
                for name, vector in zip(self.names, self.vectors):
                    out.write(name + " " + " ".join(f"{value:.9g}" for value in vector) + "\n")
            os.replace(temporary, path)
        except BaseException:
            if os.path.exists(temporary):
                os.remove(temporary)
            raise

    @classmethod
    def load_word2vec_format(cls, path: str) -> "Embeddings":
        """Reads the word2vec text format (as gensim writes it); DataError naming the line that is wrong."""
        try:
            with open(path, encoding="utf-8") as handle:
                header = handle.readline().split()
                if len(header) != 2 or not all(part.isdigit() for part in header):
                    raise DataError(f"{path} line 1: expected '<count> <dimensions>', got {' '.join(header)!r}")
                count, dimensions = map(int, header)
                names, vectors = [], np.zeros((count, dimensions), np.float32)
                for row, line in enumerate(handle):
                    parts = line.rstrip().split(" ")
                    if row >= count or len(parts) != dimensions + 1:
                        raise DataError(f"{path} line {row + 2}: expected a name and {dimensions} numbers "
                                        f"({count} lines in all); got {len(parts)} fields")
                    names.append(parts[0])
                    try:
                        vectors[row] = np.asarray(parts[1:], np.float32)
                    except ValueError:
                        raise DataError(f"{path} line {row + 2}: a value of {parts[0]!r} is not a number") from None
        except (OSError, UnicodeDecodeError) as error:
            raise DataError(f"cannot read the embeddings file {path!r}: {getattr(error, 'strerror', None) or error}") from None
        if len(names) != count:
            raise DataError(f"{path} announces {count} vectors but holds {len(names)}")
        return cls(names, vectors)


def _as_list(items) -> list:
    """A name, a vector or a list of them -> a list."""
    if isinstance(items, str) or (isinstance(items, np.ndarray) and items.ndim == 1):
        return [items]
    return list(items)
