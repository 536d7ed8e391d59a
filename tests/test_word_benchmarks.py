"""jaxae.metrics.word_benchmarks against gensim's KeyedVectors.evaluate_word_pairs / evaluate_word_analogies,
on the benchmark files in gensim's wheel."""

import numpy as np
import pytest

from jaxae.data.corpus import gensim_datapath
from jaxae.embeddings import Embeddings
from jaxae.errors import DataError
from jaxae.metrics import word_benchmarks

gensim = pytest.importorskip("gensim")
from gensim.models import KeyedVectors  # noqa: E402


def keyed_vectors(embeddings):
    vectors = KeyedVectors(embeddings.vectors.shape[1])
    vectors.add_vectors(embeddings.names, embeddings.vectors)
    return vectors


@pytest.fixture(scope="module")
def planted():
    """Words of WordSim-353 and of the capitals section of the analogies, lower-cased (the files
    capitalise names), with a 'capital of' offset planted so that most analogies hold, and random
    vectors elsewhere; a few words repeat in upper case further down, to exercise case matching."""
    rng = np.random.default_rng(0)
    pairs = [line.split("\t")[:2] for line in open(gensim_datapath(word_benchmarks.WORDSIM353)) if not line.startswith("#")]
    questions = []
    for line in open(gensim_datapath(word_benchmarks.ANALOGIES)):
        if line.startswith(":"):
            if questions:
                break
            continue
        questions.append(line.lower().split())
    capitals = {a: b for a, b, _, _ in questions} | {c: d for _, _, c, d in questions}
    words = list(dict.fromkeys([w for pair in pairs for w in pair] + list(capitals) + list(capitals.values())))
    vectors = {word: rng.normal(size=32) for word in words}
    offset = 3 * rng.normal(size=32)
    for capital, country in capitals.items():
        vectors[country] = vectors[capital] + offset + rng.normal(scale=0.8, size=32)
    names = words + [word.upper() for word in words[:20]]
    values = [vectors[word] for word in words] + [rng.normal(size=32) for _ in range(20)]
    return Embeddings(names, np.asarray(values))


@pytest.mark.parametrize("file", [word_benchmarks.WORDSIM353, word_benchmarks.SIMLEX999])
def test_word_pair_correlations_are_gensims(planted, file):
    ours = word_benchmarks.evaluate_word_pairs(planted, gensim_datapath(file))
    pearson, spearman, oov_ratio = keyed_vectors(planted).evaluate_word_pairs(gensim_datapath(file))
    np.testing.assert_allclose([ours["pearson"], ours["spearman"], ours["oov_ratio"]],
                               [pearson.statistic, spearman.statistic, oov_ratio], rtol=1e-5)
    assert ours["pairs"] > 10
    restricted = word_benchmarks.evaluate_word_pairs(planted, gensim_datapath(file), restrict_vocab=100)
    _, spearman, oov_ratio = keyed_vectors(planted).evaluate_word_pairs(gensim_datapath(file), restrict_vocab=100)
    np.testing.assert_allclose([restricted["spearman"], restricted["oov_ratio"]], [spearman.statistic, oov_ratio], rtol=1e-5)


def test_analogy_accuracy_is_gensims(planted):
    ours = word_benchmarks.evaluate_word_analogies(planted, gensim_datapath(word_benchmarks.ANALOGIES))
    score, sections = keyed_vectors(planted).evaluate_word_analogies(gensim_datapath(word_benchmarks.ANALOGIES))
    total = sections[-1]
    assert ours["correct"] == len(total["correct"]) and ours["questions"] == len(total["correct"]) + len(total["incorrect"])
    assert ours["accuracy"] == pytest.approx(score) and 0.3 < ours["accuracy"] < 1  # The planted offset answers many.
    assert ours["total"] == 19544


def test_bad_files_and_uncovered_vocabularies_are_errors(planted, tmp_path):
    bad = tmp_path / "pairs.tsv"
    bad.write_text("tiger cat 7.35\n")  # Spaces, not tabs.
    with pytest.raises(DataError, match="line 1: expected 'word1<TAB>word2<TAB>score'"):
        word_benchmarks.evaluate_word_pairs(planted, str(bad))
    unknown = Embeddings(["zzz", "yyy"], np.eye(2))
    with pytest.raises(DataError, match="0 pair"):
        word_benchmarks.evaluate_word_pairs(unknown, gensim_datapath(word_benchmarks.WORDSIM353))
    assert word_benchmarks.evaluate_word_analogies(unknown, gensim_datapath(word_benchmarks.ANALOGIES))["questions"] == 0
    with pytest.raises(DataError, match="cannot read the benchmark file"):
        word_benchmarks.evaluate_word_pairs(planted, str(tmp_path / "missing.tsv"))
