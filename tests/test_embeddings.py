"""Reading an embedding space against gensim's KeyedVectors: most_similar (3CosAdd), 3CosMul,
analogies, the soft cosine, and the word2vec text format both ways."""

import numpy as np
import pytest
from gensim.corpora import Dictionary
from gensim.models import KeyedVectors
from gensim.similarities import SparseTermSimilarityMatrix, WordEmbeddingSimilarityIndex

from jaxae.embeddings import Embeddings
from jaxae.errors import DataError


@pytest.fixture(scope="module")
def space():
    rng = np.random.default_rng(0)
    names = [f"w{i}" for i in range(60)]
    vectors = rng.normal(size=(60, 8)).astype(np.float32)
    # A planted analogy: king - man + woman lands next to queen.
    vectors[:4] = [[3, 0, 0, 0, 0, 0, 0, 0], [3, 2, 0, 0, 0, 0, 0, 0], [0, 0, 3, 0, 0, 0, 0, 0], [0, 2, 3, 0, 0, 0, 0, 0]]
    names[:4] = ["man", "king", "woman", "queen"]
    ours = Embeddings(names, vectors)
    theirs = KeyedVectors(vector_size=8)
    theirs.add_vectors(names, vectors)
    return ours, theirs


def assert_same_ranking(ours, theirs):
    assert [name for name, _ in ours] == [name for name, _ in theirs]
    np.testing.assert_allclose([value for _, value in ours], [value for _, value in theirs], rtol=1e-5, atol=1e-6)


def test_most_similar_and_3cosmul_agree_with_gensim(space):
    ours, theirs = space
    for positive, negative in [(["w10"], []), (["king", "woman"], ["man"]), (["w5", "w6", "w7"], ["w8", "w9"])]:
        assert_same_ranking(ours.most_similar(positive, negative, topn=7), theirs.most_similar(positive, negative, topn=7))
        assert_same_ranking(ours.most_similar_cosmul(positive, negative, topn=7),
                            theirs.most_similar_cosmul(positive, negative, topn=7))
    vector = ours["w23"] + ours["w24"]
    assert_same_ranking(ours.most_similar(vector, topn=5), theirs.most_similar([vector], topn=5))
    # A vector beside names enters as given (not scaled to unit length), in both.
    assert_same_ranking(ours.most_similar(["w30", vector], ["w31"], topn=5), theirs.most_similar(["w30", vector], ["w31"], topn=5))
    assert_same_ranking(ours.most_similar_cosmul(["w30", vector], ["w31"], topn=5),
                        theirs.most_similar_cosmul(["w30", vector], ["w31"], topn=5))
    assert ours.similarity("w21", "w22") == pytest.approx(theirs.similarity("w21", "w22"), abs=1e-6)
    assert ours.analogy("man", "king", "woman") == "queen"
    clean = Embeddings(["man", "king", "woman", "queen", "apple", "car"],
                       [[1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 1, 1, 0], [0, 0, 0, 1], [1, 0, 0, 1]])
    assert clean.analogy("man", "king", "woman", method="add") == "queen" == clean.analogy("man", "king", "woman", method="mul")
    with pytest.raises(KeyError, match="'prince' is not among the 60 embedded names"):
        ours.most_similar("prince")


def test_the_soft_cosine_agrees_with_gensim_and_with_its_limits(space):
    ours, theirs = space
    first, second = ["w11", "w12", "w12", "king"], ["w13", "queen", "w15", "w11"]
    dictionary = Dictionary([first, second])
    index = WordEmbeddingSimilarityIndex(theirs)
    # gensim keeps the `nonzero_limit` nearest names of the whole space per column: all of them here.
    matrix = SparseTermSimilarityMatrix(index, dictionary, nonzero_limit=len(ours))
    expected = matrix.inner_product(dictionary.doc2bow(first), dictionary.doc2bow(second), normalized=(True, True))
    assert ours.soft_cosine(first, second) == pytest.approx(expected, rel=1e-5)
    assert ours.soft_cosine(first, first) == pytest.approx(1.0)
    # No two names alike (orthogonal vectors): the plain cosine of the two bags' counts.
    plain = Embeddings(["a", "b", "c"], np.eye(3))
    assert plain.soft_cosine(["a", "a", "b"], ["a", "c"]) == pytest.approx(2 / (np.sqrt(5) * np.sqrt(2)))
    # Alike names raise it above the plain cosine, which is 0 here.
    assert ours.soft_cosine(["king"], ["queen"]) > 0 == plain.soft_cosine(["a"], ["b"])


def test_the_word2vec_text_format_round_trips_through_gensim(tmp_path, space):
    ours, theirs = space
    path = str(tmp_path / "ours.txt")
    ours.save_word2vec_format(path)
    loaded = KeyedVectors.load_word2vec_format(path, binary=False)
    assert loaded.index_to_key == ours.names
    np.testing.assert_array_equal(loaded.vectors, ours.vectors)
    theirs.save_word2vec_format(str(tmp_path / "theirs.txt"), binary=False)
    back = Embeddings.load_word2vec_format(str(tmp_path / "theirs.txt"))
    assert back.names == ours.names
    np.testing.assert_allclose(back.vectors, ours.vectors, rtol=1e-6)


def test_bad_names_vectors_and_files_are_refused(tmp_path):
    with pytest.raises(DataError, match="holds whitespace"):
        Embeddings(["new york"], np.ones((1, 2)))
    with pytest.raises(DataError, match="must be distinct; 'a' repeats"):
        Embeddings(["a", "a"], np.ones((2, 2)))
    with pytest.raises(DataError, match="embedding 'b' is not finite"):
        Embeddings(["a", "b"], [[1, 2], [np.nan, 0]])
    bad = tmp_path / "bad.txt"
    bad.write_text("2 3\na 1 2 3\nb 1 2\n")
    with pytest.raises(DataError, match="line 3: expected a name and 3 numbers"):
        Embeddings.load_word2vec_format(str(bad))
    bad.write_text("two 3\n")
    with pytest.raises(DataError, match="line 1: expected '<count> <dimensions>'"):
        Embeddings.load_word2vec_format(str(bad))
    with pytest.raises(DataError, match="cannot read the embeddings file"):
        Embeddings.load_word2vec_format(str(tmp_path / "missing.txt"))
