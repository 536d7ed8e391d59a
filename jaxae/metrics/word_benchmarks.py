"""Scoring a word space against human judgements and analogy questions, as gensim scores it.

* `evaluate_word_pairs`: Spearman (and Pearson) correlation between the cosine similarity of word
  pairs and human ratings (WordSim-353, SimLex-999), over the pairs whose words are both known;
  the share of pairs left out is reported as `oov_ratio` (percent).
* `evaluate_word_analogies`: "a is to b as c is to d" questions (Mikolov et al.'s
  questions-words.txt): the answer is the known word, other than a, b and c, nearest by cosine to
  b - a + c on unit vectors (3CosAdd); accuracy over the questions whose four words are known.

Both follow gensim's `KeyedVectors.evaluate_word_pairs` / `evaluate_word_analogies` with their
defaults: only the `restrict_vocab` most frequent words count as known (the embeddings' names are
taken in frequency order, as a skip-gram run writes them), and words are matched ignoring case
(upper-cased; where two names differ only by case, the more frequent one answers).
`tests/test_word_benchmarks.py` checks the numbers against gensim's.
"""

from __future__ import annotations

import numpy as np
import scipy.stats

from jaxae.embeddings import Embeddings
from jaxae.errors import DataError

# The benchmark files in gensim's wheel (`corpus.gensim_datapath`).
WORDSIM353 = "wordsim353.tsv"
SIMLEX999 = "simlex999.txt"
ANALOGIES = "questions-words.txt"


def _known(embeddings: Embeddings, restrict_vocab: int, case_insensitive: bool) -> dict[str, int]:
    """{word as matched: row} of the `restrict_vocab` first names; the first of equal keys wins."""
    known = {}
    for row, name in enumerate(embeddings.names[:restrict_vocab]):
        known.setdefault(name.upper() if case_insensitive else name, row)
    return known


def _read_lines(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as handle:
            return [line.rstrip("\n") for line in handle]
    except OSError as error:
        raise DataError(f"cannot read the benchmark file {path!r}: {error.strerror or error}") from None


def evaluate_word_pairs(embeddings: Embeddings, path: str, *, restrict_vocab: int = 300_000,
                        case_insensitive: bool = True) -> dict[str, float]:
    """Correlation of the space's cosine similarities with the human scores in `path`.

    path: a tab-separated file of `word1 word2 score` lines; lines starting with '#' are comments.
    Returns {'spearman', 'pearson', 'oov_ratio' (percent of pairs left out), 'pairs' (scored)}.
    """
    known = _known(embeddings, restrict_vocab, case_insensitive)
    rows, human, left_out = [], [], 0
    for number, line in enumerate(_read_lines(path), 1):
        if line.startswith("#") or not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise DataError(f"{path} line {number}: expected 'word1<TAB>word2<TAB>score', got {line!r}")
        first, second = (word.upper() if case_insensitive else word for word in parts[:2])
        if first not in known or second not in known:
            left_out += 1
            continue
        rows.append((known[first], known[second]))
        human.append(float(parts[2]))
    if len(rows) < 2:
        raise DataError(f"{path}: {len(rows)} pair(s) have both words in the vocabulary; a correlation needs 2")
    unit = _unit(embeddings.vectors)
    first, second = np.asarray(rows).T
    model = np.sum(unit[first] * unit[second], axis=1)
    return {"spearman": float(scipy.stats.spearmanr(human, model).statistic),
            "pearson": float(scipy.stats.pearsonr(human, model).statistic),
            "oov_ratio": 100.0 * left_out / (len(rows) + left_out), "pairs": float(len(rows))}


def evaluate_word_analogies(embeddings: Embeddings, path: str, *, restrict_vocab: int = 300_000,
                            case_insensitive: bool = True, chunk: int = 1024) -> dict[str, float]:
    """Accuracy of 3CosAdd on the analogy questions in `path` whose four words are known.

    path: lines `a b c d`, with `: section` lines between sections.
    Returns {'accuracy', 'correct', 'questions' (answered: all four words known), 'total' (in the file)}.
    """
    known = _known(embeddings, restrict_vocab, case_insensitive)
    questions, total = [], 0
    for number, line in enumerate(_read_lines(path), 1):
        if line.startswith(": ") or not line.strip():
            continue
        words = [word.upper() if case_insensitive else word for word in line.split()]
        if len(words) != 4:
            raise DataError(f"{path} line {number}: expected four words, got {line!r}")
        total += 1
        if all(word in known for word in words):
            questions.append([known[word] for word in words])
    if not questions:
        return {"accuracy": float("nan"), "correct": 0.0, "questions": 0.0, "total": float(total)}
    unit = _unit(embeddings.vectors[: min(restrict_vocab, len(embeddings))])
    # Each row's word as matched: the row that answers for its upper-cased name (itself, or a more
    # frequent spelling), so a case variant of a, b or c is never the answer and one of d is right.
    canonical = np.asarray([known[name.upper() if case_insensitive else name] for name in embeddings.names[: len(unit)]])
    questions = np.asarray(questions)
    correct = 0
    for start in range(0, len(questions), chunk):
        a, b, c, expected = questions[start:start + chunk].T
        scores = (unit[b] - unit[a] + unit[c]) @ unit.T  # Ranks as gensim's normalised mean does.
        for words in (a, b, c):
            scores[canonical[None, :] == words[:, None]] = -np.inf
        correct += int(np.sum(canonical[np.argmax(scores, axis=1)] == expected))
    return {"accuracy": correct / len(questions), "correct": float(correct), "questions": float(len(questions)),
            "total": float(total)}


def evaluate_on_gensim_benchmarks(embeddings: Embeddings) -> dict[str, float]:
    """WordSim-353 and SimLex-999 Spearman, their out-of-vocabulary ratios, and analogy accuracy,
    from the files in gensim's wheel (DataError naming the install when gensim is absent)."""
    from jaxae.data.corpus import gensim_datapath

    measures = {}
    for name, file in (("ws353", WORDSIM353), ("simlex", SIMLEX999)):
        pairs = evaluate_word_pairs(embeddings, gensim_datapath(file))
        measures |= {f"{name}_spearman": pairs["spearman"], f"{name}_oov_ratio": pairs["oov_ratio"]}
    analogies = evaluate_word_analogies(embeddings, gensim_datapath(ANALOGIES))
    return measures | {"analogy_accuracy": analogies["accuracy"], "analogy_questions": analogies["questions"]}


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1)
