"""Skip-gram with negative sampling: the loss and its gradient against NumPy, word2vec's sampling
(subsampling, windows, the negatives' table) against its formulas and gensim, the corpus against
gensim's vocabulary, the family through the loop (what it learns, embeddings.txt read by gensim),
1 against 8 devices with sharded tables or dense updates, a skipped non-finite step, and config errors.
(1 against 8 devices with the default tables, and resuming: tests/test_every_family.py.)"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

import jaxae
from jaxae import losses
from jaxae.data import corpus, skipgram, sources
from jaxae.devices import parallel
from jaxae.embeddings import Embeddings
from jaxae.engine import loop
from jaxae.errors import ConfigError, DataError
from helpers import tiny, train
import cases


def sgns_config(**fields):
    """The tiny skip-gram on the synthetic topics corpus, saved often enough to kill it."""
    return tiny("sgns_wiki", **({"eval_every": 0, "checkpoint_every": 40} | fields))


@pytest.fixture(scope="module")
def synthetic():
    return cases.prepared("corpus")


@pytest.fixture(scope="module")
def one(tmp_path_factory, synthetic):
    return train(tmp_path_factory.mktemp("sgns"), sgns_config(), synthetic)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_the_loss_and_its_gradient_are_numpys():
    rng = np.random.default_rng(0)
    v, u = rng.normal(size=(7, 6, 5)), rng.normal(size=(7, 5))  # 7 centre words, 6 pairs each, d = 5.
    negatives, weights = rng.normal(size=(7, 6, 3, 5)), (rng.random((7, 6, 3)) < 0.8).astype(float)
    positive, negative = np.einsum("gpd,gd->gp", v, u), np.einsum("gpd,gpkd->gpk", v, negatives)
    expected = -np.log(sigmoid(positive)) - np.sum(weights * np.log(sigmoid(-negative)), -1)
    as32 = lambda *xs: [jnp.asarray(x, jnp.float32) for x in xs]
    loss_fn = jax.jit(lambda v, u, n, w: jnp.sum(losses.skipgram_negative_sampling(v, u, n, w)))
    np.testing.assert_allclose(losses.skipgram_negative_sampling(*as32(v, u, negatives, weights)), expected, rtol=1e-5)
    grads = jax.grad(loss_fn, argnums=(0, 1, 2))(*as32(v, u, negatives, weights))
    pull = (1 - sigmoid(positive))[..., None]  # d/d(score) of -log sigmoid(score) is -(1 - sigmoid).
    push = (weights * sigmoid(negative))[..., None]
    expected_grads = (-pull * u[:, None] + np.sum(push * negatives, -2), np.sum(-pull * v, 1), push * v[..., None, :])
    for got, want in zip(grads, expected_grads):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    # Negatives shared by a centre's pairs: the loss of each pair as if each had its own copy, and
    # a shared row's gradient the sum over the pairs that use it.
    shared = negatives[:, 0]
    copies = np.broadcast_to(shared[:, None], negatives.shape)
    np.testing.assert_allclose(losses.skipgram_negative_sampling(*as32(v, u, shared, weights)),
                               losses.skipgram_negative_sampling(*as32(v, u, copies, weights)), rtol=1e-6)
    np.testing.assert_allclose(jax.grad(loss_fn, argnums=2)(*as32(v, u, shared, weights)),
                               np.sum(jax.grad(loss_fn, argnums=2)(*as32(v, u, copies, weights)), 1), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="do not match"):
        losses.skipgram_negative_sampling(*as32(v, u[:, :4], negatives, weights))


def test_negatives_follow_the_unigram_distribution_to_the_three_quarters():
    counts = np.asarray([5000, 1200, 300, 77, 20, 6, 5, 5, 1])
    expected = counts ** 0.75 / np.sum(counts ** 0.75)
    table = corpus.negative_table(counts)
    np.testing.assert_allclose(np.diff(table, prepend=0) / corpus.NEGATIVE_TABLE_DOMAIN, expected, atol=1e-9)
    draws = np.asarray(jax.jit(skipgram.draw_negatives, static_argnums=2)(jax.random.PRNGKey(0), jnp.asarray(table),
                                                                          (400_000,)))
    observed = np.bincount(draws, minlength=len(counts))
    assert scipy.stats.chisquare(observed, expected * len(draws)).pvalue > 1e-3


def test_subsampling_keeps_words_by_word2vecs_formula_as_gensim_computes_it():
    gensim_models = pytest.importorskip("gensim.models")
    documents = corpus.synthetic()
    vocabulary = corpus.build_vocabulary(documents, min_count=1)
    for sample in (1e-2, 1e-3):
        model = gensim_models.Word2Vec(sample=sample, min_count=1)
        model.build_vocab(documents)
        gensims = np.asarray([model.wv.get_vecattr(str(word), "sample_int") for word in vocabulary.words]) / 2**32
        ours = corpus.keep_probabilities(vocabulary.counts, sample)
        np.testing.assert_allclose(ours, gensims, atol=1e-9)
        threshold = sample * vocabulary.counts.sum()  # word2vec.c: (sqrt(f / (s T)) + 1) (s T) / f.
        np.testing.assert_allclose(ours, np.minimum(1, (np.sqrt(vocabulary.counts / threshold) + 1) * threshold / vocabulary.counts))
        assert ours.min() < 0.9 and ours.max() == 1  # Frequent words are thinned, rare ones kept.
    # On the device: the share of each word's occurrences kept is its probability, and the kept
    # words keep their order.
    keep = np.asarray([0.1, 0.5, 1.0], np.float32)
    tokens = jnp.asarray(np.tile([0, 1, 2, 1], 256), jnp.int32)
    segment = jnp.ones_like(tokens)
    subsample = jax.jit(jax.vmap(skipgram.subsample, in_axes=(0, None, None, None)))
    kept, kept_segment = subsample(jax.random.split(jax.random.PRNGKey(1), 200), tokens, segment, jnp.asarray(keep))
    kept, kept_segment = np.asarray(kept), np.asarray(kept_segment)
    shares = [np.sum((kept == w) & (kept_segment > 0)) / (200 * np.sum(tokens == w)) for w in range(3)]
    np.testing.assert_allclose(shares, keep, atol=0.01)
    first = kept[0][kept_segment[0] > 0]
    assert np.all(np.isin(first, [0, 1, 2])) and np.all(kept_segment[0][len(first):] == 0)


def test_windows_are_dynamic_within_one_document():
    window, length = 4, 4096
    segment = jnp.asarray(np.repeat([1, 2], length // 2).astype(np.int32))
    is_pair = np.asarray(jax.jit(skipgram.window_pairs, static_argnums=2)(jax.random.PRNGKey(0), segment, window))
    offsets = np.asarray(skipgram.context_offsets(window))
    position = np.arange(length)
    contexts = np.asarray(skipgram.gather_offsets(jnp.asarray(position + 1), window)) - 1  # -1 beyond the chunk.
    assert np.all((contexts - position[:, None])[is_pair] == np.broadcast_to(offsets, is_pair.shape)[is_pair])
    assert not np.any(is_pair & ((position[:, None] < length // 2) != (contexts < length // 2)))  # Never across documents.
    reach = np.max(np.where(is_pair, np.abs(offsets), 0), axis=1)
    interior = (position % (length // 2) >= window) & (position % (length // 2) < length // 2 - window)
    # word2vec's reduced window: each side of an interior centre reaches exactly 1..window words, uniformly.
    np.testing.assert_array_equal(is_pair[interior], np.abs(offsets)[None, :] <= reach[interior, None])
    assert set(reach[interior]) == set(range(1, window + 1))
    assert abs(reach[interior].mean() - (window + 1) / 2) < 0.1
    # What a position receives as a context is the transpose of what a centre reads.
    y = np.random.default_rng(0).normal(size=(length, 2 * window))
    x = np.random.default_rng(1).normal(size=length)
    np.testing.assert_allclose(np.sum(np.asarray(skipgram.gather_offsets(jnp.asarray(x), window)) * y),
                               np.sum(x * np.asarray(skipgram.scatter_offsets(jnp.asarray(y), window))), rtol=1e-4)


def test_the_corpus_reads_tokens_and_counts_words_as_gensim_does():
    gensim = pytest.importorskip("gensim")
    lines = open(corpus.gensim_datapath("lee_background.cor"), encoding="utf-8").readlines()
    documents = corpus.read_documents(corpus.GENSIM_LEE)
    assert documents == [gensim.utils.simple_preprocess(line) for line in lines if gensim.utils.simple_preprocess(line)]
    vocabulary = corpus.build_vocabulary(documents, min_count=5)
    model = gensim.models.Word2Vec(min_count=5)
    model.build_vocab(documents)
    assert dict(zip(vocabulary.words, vocabulary.counts)) == {w: model.wv.get_vecattr(w, "count") for w in model.wv.index_to_key}
    assert np.all(np.diff(vocabulary.counts) <= 0)
    chunks = corpus.pack_chunks([vocabulary.ids(document) for document in documents], 512)
    kept = chunks["segment"] > 0
    assert kept.sum() == vocabulary.counts.sum()
    np.testing.assert_array_equal(chunks["tokens"][kept][:50], vocabulary.ids(documents[0])[:50])
    # Segments number the pieces of documents within each chunk, from 1.
    first_chunk_documents = np.unique(chunks["segment"][0][chunks["segment"][0] > 0])
    np.testing.assert_array_equal(first_chunk_documents, np.arange(1, len(first_chunk_documents) + 1))


def test_the_family_learns_topics_and_writes_vectors_gensim_reads(one, synthetic):
    from gensim.models import KeyedVectors

    records = one.eval_metrics
    assert records["eval/loss"] < 0.8 * np.log(2) * (1 + 5)  # Below the loss of untrained (zero) output vectors.
    path = f"{one.workdir}/embeddings.txt"
    assert one.export_paths == [path]  # train.py lists it with the run's other outputs (issue 27, finding 11).
    vectors = KeyedVectors.load_word2vec_format(path)
    model = jaxae.load(one.workdir, mesh=parallel.make_mesh(1))
    words = synthetic[0].metadata["words"]
    assert vectors.index_to_key == words  # Most frequent first, as gensim orders a vocabulary.
    np.testing.assert_allclose(vectors.vectors, model.input_vectors, rtol=1e-6)
    embeddings = model.embeddings(words)
    topic = np.asarray([word.split("w")[0] for word in words])
    neighbours = [[word for word, _ in embeddings.most_similar(word, topn=5)] for word in words]
    purity = np.mean([[topic[embeddings.row(n)] == topic[i] for n in row] for i, row in enumerate(neighbours)])
    assert purity > 0.9  # Chance: 1 in 6 topics.


@pytest.mark.parametrize("mode,fields", [("jit", {"sgns__tables": "sharded"}), ("pmap", {"sgns__updates": "dense"})],
                         ids=["jit-sharded", "pmap-dense"])
def test_eight_devices_with_sharded_tables_or_dense_updates_match_one(tmp_path, synthetic, mode, fields):
    """The tables' other layouts (the replicated ones with row updates: tests/test_every_family.py)."""
    short = cases.trained("sgns_wiki")
    config = cases.config("sgns_wiki", mode, **fields)
    eight = train(tmp_path, config, synthetic, parallel.make_mesh(8))
    if config.sgns.tables == "sharded":  # Split along the vocabulary over the eight devices.
        assert eight.state.params["input"].sharding.spec[0] == parallel.DATA_AXIS
        assert len(eight.state.params["input"].addressable_shards) == 8
        # The memory check counts a device's rows, not the whole table.
        assert 8 * parallel.tree_bytes(eight.state.params, per_device=True) == parallel.tree_bytes(eight.state.params)
    tables = jax.device_get(parallel.fetch_to_host(eight.state.params))
    vocab_size = synthetic[0].spec["tokens"].vocab_size
    for name, table in jax.device_get(short.state.params).items():
        np.testing.assert_allclose(tables[name][:vocab_size], table, rtol=1e-4, atol=1e-5)


def test_a_non_finite_step_is_skipped_and_zeroed_as_in_every_family(synthetic, one):
    """nonfinite='skip': the step keeps the tables it started from and zeroes its metrics, so the
    loop leaves it out of the window's means rather than stopping on its NaN loss (issue 28)."""
    from jaxae.data import host
    from jaxae.metrics.means import window_means
    from jaxae.trainers import create_trainer

    config = sgns_config(nonfinite="skip")
    trainer = create_trainer(config, synthetic[0].spec, len(synthetic[0]))
    (phase,) = trainer.phases()
    step = jax.jit(phase.step)
    chunks = host.read_all(synthetic[0], ["tokens", "segment"])
    batch = {name: values[:config.batch_size] for name, values in chunks.items()}
    batch["index"] = np.arange(config.batch_size, dtype=np.int32)
    state = jax.device_get(one.state)
    _, finite = step(state, batch)
    assert float(finite["skipped"]) == 0 and np.isfinite(float(finite["loss"])) and float(finite["loss"]) > 0
    poisoned = state.replace(params={**state.params, "input": np.full_like(state.params["input"], np.nan)})
    after, metrics = step(poisoned, batch)
    np.testing.assert_array_equal(jax.device_get(after.params["input"]), poisoned.params["input"])  # NaN == NaN here.
    np.testing.assert_array_equal(jax.device_get(after.params["output"]), state.params["output"])
    assert float(metrics["skipped"]) == 1 and all(float(v) == 0 for k, v in metrics.items() if k != "skipped")
    window = jax.device_get({name: value + finite[name] for name, value in metrics.items()})
    assert np.isfinite(window_means(window, 2)["loss"])  # The finite step's loss alone.


def test_a_text_file_is_a_corpus(tmp_path):
    text = tmp_path / "mine.txt"
    letters = str.maketrans("0123456789", "abcdefghij")  # The tokeniser keeps letters only.
    documents = [[word.translate(letters) for word in document] for document in corpus.synthetic(num_documents=40)]
    text.write_text("\n".join(" ".join(document) for document in documents) + "\n\n")
    config = sgns_config(num_steps=4, log_every=2, checkpoint_every=4, data__tfds_data_dir=str(tmp_path / "tfds"))
    config.data.corpus.source = str(text)
    result = loop.run(config, str(tmp_path / "run"))
    assert np.isfinite(result.eval_metrics["eval/loss"])
    train_split = sources.open_tfds("corpus", "train", str(tmp_path / "tfds"), config.data)
    assert corpus.source_tag(str(text)) in train_split.fingerprint()
    assert train_split.metadata["words"] == corpus.build_vocabulary(documents, min_count=2).words.tolist()
    assert Embeddings.load_word2vec_format(str(tmp_path / "run" / "embeddings.txt")).names == train_split.metadata["words"]


def test_config_and_data_errors_are_one_line_before_training(tmp_path, synthetic, monkeypatch):
    for fields, message in [({"sgns__tables": "sharded", "parallel__mode": "pmap"}, "needs parallel.mode='jit'"),
                            ({"sgns__window": 0}, "sgns.window=0"),
                            ({"sgns__final_learning_rate": 0.5}, "sgns.final_learning_rate=0.5"),
                            ({"sgns__updates": "sparse"}, "sgns.updates='sparse'"),
                            ({"data__corpus__source": str(tmp_path / "nowhere.txt")}, "neither one of"),
                            ({"data__corpus__min_count": 0}, "data.corpus.min_count=0")]:
        with pytest.raises(ConfigError, match=message):
            loop.train(sgns_config(**fields), str(tmp_path / "never"), *synthetic)
    monkeypatch.setitem(__import__("sys").modules, "gensim.test.utils", None)
    with pytest.raises(DataError, match=r"pip install 'jaxae\[text\]'"):
        corpus.read_documents(corpus.GENSIM_LEE)
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00words")
    with pytest.raises(DataError, match="not UTF-8"):
        corpus.read_documents(str(binary))
