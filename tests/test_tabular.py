"""The tabular family: numeric and categorical columns in one code, each reconstructed with its own
loss; the embedded breast-cancer config; jaxae.load; the table encoder's reading and writing of
mixed DataFrames. (1 against 8 devices and resuming: tests/test_every_family.py, on the same run.)"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import log_softmax

import jaxae
from jaxae import losses
from jaxae.data import host, sources
from jaxae.data.tables import TableEncoder
from jaxae.devices import parallel
from jaxae.engine import loop
from jaxae.errors import ConfigError, DataError
import cases
from helpers import mixed_frame, with_holes


@pytest.fixture(scope="module")
def encoded():
    return cases.table_data()


@pytest.fixture(scope="module")
def one():
    return cases.trained("tabular_breast_cancer")


def test_the_encoder_reads_each_column_by_its_kind_and_writes_it_back():
    frame = mixed_frame(12)
    table = TableEncoder().fit(frame)
    assert [column["kind"] for column in table.columns] == ["numeric", "ordinal", "categorical", "categorical", "numeric"]
    assert table.cardinalities == (4, 3)  # Three colours and two shapes seen, plus one id for unseen ones.
    numeric, categorical = table.transform(frame)
    assert numeric.shape == (12, 3) and categorical.shape == (12, 2) and categorical.dtype == np.int32
    np.testing.assert_allclose(numeric.mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(numeric.std(0), 1, atol=1e-5)
    # Ordinal ranks keep their order: S < M < L.
    ranks = {size: numeric[i, 1] for i, size in enumerate(frame["size"])}
    assert ranks["S"] < ranks["M"] < ranks["L"]
    # One-hot probabilities of the true ids and the encoded numbers give the table back.
    one_hot = np.eye(4)[categorical[:, 0]][:, None].repeat(2, 1)
    one_hot[:, 1] = np.eye(4)[categorical[:, 1]]
    again = TableEncoder.from_json(table.to_json()).inverse_transform(numeric, one_hot)
    np.testing.assert_allclose(again["weight"], frame["weight"], rtol=1e-5)
    assert list(again["size"]) == list(frame["size"]) and list(again["colour"]) == list(frame["colour"])
    np.testing.assert_array_equal(again["flag"].to_numpy(), frame["flag"].to_numpy())


def test_unseen_categories_take_the_last_id_and_missing_values_are_masked_or_refused():
    table = TableEncoder().fit(mixed_frame(20))
    odd = mixed_frame(3).assign(colour=["red", "purple", "blue"])
    assert table.transform(odd)[1][:, 0].tolist() == [2, 3, 0]  # Sorted: blue 0, green 1, red 2; unseen 3.
    with pytest.raises(DataError, match="column 'weight' has a missing value at row 1"):
        table.transform(mixed_frame(3).assign(weight=[1.0, np.nan, 2.0]))
    with pytest.raises(DataError, match="column 'weight' holds an infinite value at row 2"):
        table.fields(mixed_frame(3).assign(weight=[1.0, np.nan, np.inf]))
    with pytest.raises(DataError, match="not the fitted ones"):
        table.transform(mixed_frame(3).drop(columns="shape"))
    holes = with_holes(mixed_frame(40), 0.3)
    fitted = TableEncoder().fit(holes)
    weight = fitted.columns[0]
    assert weight["mean"] == pytest.approx(np.nanmean(holes["weight"])) and weight["std"] == pytest.approx(np.nanstd(holes["weight"]))
    fields = fitted.fields(holes)
    np.testing.assert_array_equal(fields["numeric_observed"][:, 0], holes["weight"].notna())
    np.testing.assert_array_equal(fields["categorical_observed"][:, 0], holes["colour"].notna())
    assert np.all(fields["numeric"][~fields["numeric_observed"]] == 0)  # A missing number enters as its mean.
    assert np.all(fields["categorical"][:, 0][holes["colour"].isna()] == 3)  # A missing category: the unseen id.
    guesses = np.where(fields["categorical_observed"], fields["categorical"], 0)  # A seen category for the holes.
    filled = fitted.filled(holes, fitted.inverse_transform(fields["numeric"], np.eye(4)[guesses]))
    assert filled[["weight", "size", "colour"]].notna().all().all()
    observed = holes["weight"].notna()
    np.testing.assert_array_equal(filled["weight"][observed], holes["weight"][observed])
    numbers = np.where(np.eye(4, 3, dtype=bool), np.nan, np.arange(12.0).reshape(4, 3))  # An array's holes.
    array_table = TableEncoder().fit(numbers)
    filled_numbers = array_table.filled(numbers, np.full((4, 3), -1.0))
    np.testing.assert_array_equal(filled_numbers, np.where(np.isnan(numbers), -1.0, numbers))


def test_missing_cells_leave_the_loss_exactly_and_rows_score_on_the_scale_of_whole_rows():
    from jaxae.trainers import create_trainer

    table, (source, _) = cases.table_data()
    config = cases.config("tabular_breast_cancer")
    trainer = create_trainer(config, source.spec, len(source))
    params = jax.jit(trainer.init)(jax.random.key(0)).params
    rows = host.read_all(source, list(source.spec))
    numeric, categorical = jnp.asarray(rows["numeric"]), jnp.asarray(rows["categorical"])
    observed = (jnp.asarray(rows["numeric_observed"]), jnp.asarray(rows["categorical_observed"]))

    def loss(params, numeric, categorical):
        return jnp.sum(trainer.per_example(params, numeric, categorical, observed)["score"])

    noise = np.random.default_rng(0)
    other_numeric = jnp.where(observed[0], numeric, noise.normal(size=numeric.shape) * 100)
    other_categorical = jnp.where(observed[1], categorical, noise.integers(0, 3, categorical.shape))
    value, gradient = jax.value_and_grad(loss)(params, numeric, categorical)
    other_value, other_gradient = jax.value_and_grad(loss)(params, other_numeric, other_categorical)
    assert value == other_value  # Whatever the data holds in a missing cell: exactly the same loss and gradient.
    chex.assert_trees_all_equal(gradient, other_gradient)
    # Each part: the observed cells' sum times (columns / observed columns), by NumPy.
    _, out, logits = trainer.model.apply({"params": params}, *trainer.shown(numeric, categorical, observed))
    seen = np.asarray(observed[0])
    squared = np.where(seen, (np.asarray(out) - rows["numeric"]) ** 2, 0).sum(1) * 3 / seen.sum(1)
    parts = trainer.per_example(params, numeric, categorical, observed)
    np.testing.assert_allclose(parts["squared_error"], squared, rtol=1e-5)
    log_p = log_softmax(np.asarray(logits, np.float64), axis=-1)
    chosen = np.take_along_axis(log_p, rows["categorical"][..., None], -1)[..., 0]
    kept = np.asarray(observed[1])
    np.testing.assert_allclose(parts["cross_entropy"], -np.where(kept, chosen, 0).sum(1) * 2 / kept.sum(1), rtol=1e-5)


def test_categorical_cross_entropy_matches_scipy_with_masked_categories():
    logits = np.random.default_rng(0).normal(size=(5, 2, 4)).astype(np.float32)
    logits[:, 1, 3] = -np.inf  # Column 1 has 3 categories.
    categories = np.array([[0, 2], [3, 1], [1, 0], [2, 2], [0, 1]])
    expected = -sum(log_softmax(logits[:, c], axis=-1)[np.arange(5), categories[:, c]] for c in range(2))
    np.testing.assert_allclose(losses.categorical_cross_entropy(jnp.asarray(logits), jnp.asarray(categories)),
                               expected, rtol=1e-5)


def test_the_family_learns_both_kinds_of_column_and_load_scores_rows(one, encoded):
    table, (source, _) = encoded
    metrics = one.eval_metrics
    assert {"eval/score", "eval/squared_error", "eval/cross_entropy", "eval/category_acc", "eval/mse"} <= set(metrics)
    assert metrics["eval/score"] == pytest.approx(metrics["eval/squared_error"] + 2 * metrics["eval/cross_entropy"],
                                                  rel=1e-5)
    model = jaxae.load(one.workdir, mesh=parallel.make_mesh(1))
    rows = host.read_all(source, list(model.input_fields))
    scores = model.scores_fields(*[rows[name] for name in model.input_fields])
    np.testing.assert_allclose(scores.mean(), metrics["eval/score"], rtol=1e-5)  # The eval split is these rows.
    untrained = jax.jit(model.trainer.init)(jax.random.key(0)).params
    observed = (jnp.asarray(rows["numeric_observed"]), jnp.asarray(rows["categorical_observed"]))
    before = model.trainer.per_example(untrained, jnp.asarray(rows["numeric"]), jnp.asarray(rows["categorical"]), observed)
    assert scores.mean() < 0.9 * float(before["score"].mean())  # Six steps already explain the rows better.
    numeric, probabilities = model.decode(model.encode(rows["numeric"][:9], rows["categorical"][:9]))
    assert numeric.shape == (9, 3) and probabilities.shape == (9, 2, 4)
    np.testing.assert_allclose(probabilities.sum(-1), 1, atol=1e-5)
    assert np.all(probabilities[:, 1, 3] == 0)  # Beyond the shape column's 3 ids.
    with pytest.raises(DataError, match=r"categorical\[0, 1\]=3 is not in \[0, 3\), that column.s ids"):
        model.scores(rows["numeric"][:1], np.array([[0, 3]]))


def test_the_breast_cancer_config_trains_on_its_embedded_table(tmp_path, tiny_config):
    splits = [sources.open_tfds("sklearn_breast_cancer", split) for split in ("train", "test")]
    assert (len(splits[0]), len(splits[1])) == (456, 113) and splits[0].spec["numeric"].shape == (30,)
    numeric = host.read_all(splits[0], ["numeric"])["numeric"]
    np.testing.assert_allclose(numeric.mean(0), 0, atol=1e-5)  # Standardised by the train split.
    result = loop.train(tiny_config("tabular_breast_cancer"), str(tmp_path), *splits, parallel.make_mesh(1))
    assert np.isfinite(result.eval_metrics["eval/mse"]) and "eval/cross_entropy" not in result.eval_metrics
    # The loaded model takes the table's raw rows: the run recorded the builder's standardisation.
    from sklearn.datasets import load_breast_cancer

    from jaxae.data.builders import every_fifth_is_test, split_masks

    table = load_breast_cancer()
    train = table.data[split_masks(table.target, every_fifth_is_test)["train"]]
    model = jaxae.load(str(tmp_path), mesh=parallel.make_mesh(1))
    by_hand = (table.data - train.mean(0)) / train.std(0)
    np.testing.assert_allclose(model.scores(table.data), model.scores_fields(by_hand), rtol=1e-6)
    assert model.scores(table.data).mean() < 100  # Raw rows scored as standardised ones gave about 3.7e7.
    with pytest.raises(DataError, match="pass the raw rows alone"):
        model.scores(by_hand, np.zeros((len(by_hand), 0), np.int32))


def test_categorical_columns_the_data_lacks_are_refused(encoded):
    table, (source, _) = encoded
    from jaxae.trainers import create_trainer

    config = cases.config("tabular_breast_cancer")
    config.table.cardinalities = (4, 3, 5)
    with pytest.raises(ConfigError, match="names 3 categorical columns"):
        create_trainer(config, source.spec, len(source))
    config.table.cardinalities = (4, 1)
    with pytest.raises(ConfigError, match="at least 2 categories"):
        loop.train(config, "/nonexistent/never-made", source, source)
