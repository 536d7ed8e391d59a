"""A CSV table through the config (`data.name='csv'`): column kinds, a seeded split, the transform
fitted on the train rows, bad files named in one line, a tabular run whose loaded model scores the
file's raw rows, and the estimators' runs, which record their transform too."""

import ml_collections
import numpy as np
import pandas as pd
import pytest

import jaxae
from jaxae.data import csv_table, host, sources, splits
from jaxae.devices import parallel
from jaxae.engine import loop
from jaxae.errors import ConfigError, DataError
from helpers import tiny


def customers(rows=120, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "id": np.arange(rows), "age": rng.integers(18, 80, rows), "income": rng.normal(5e4, 1e4, rows).round(2),
        "city": rng.choice(["Paris", "Lyon", "Nice"], rows), "size": rng.choice(["S", "M", "L"], rows),
        "zip": rng.choice([75001, 69001], rows), "member": rng.choice([True, False], rows),
        "churn": rng.choice(["yes", "no"], rows, p=[0.3, 0.7])})


OPTIONS = dict(label="churn", categorical="zip", ordinal="size:S<M<L", ignore="id", delimiter=",")


def csv_config(path, tfds_dir, **options):
    config = tiny("tabular_breast_cancer")
    config.data.name, config.data.path, config.data.tfds_data_dir = "csv", str(path), str(tfds_dir)
    config.data.csv.update({**OPTIONS, **options})
    config.batch_size = config.eval_batch_size = 8
    config.parallel.num_devices = 1  # What is tested is the data.
    return config


def options(**changes):
    return csv_table.CsvOptions.of(ml_collections.ConfigDict({**OPTIONS, **changes}))


def test_columns_are_typed_the_split_keeps_each_class_and_the_transform_sees_train_rows_only(tmp_path):
    frame = customers()
    frame.to_csv(tmp_path / "customers.csv", index=False)
    table = csv_table.read(str(tmp_path / "customers.csv"), options(), test_fraction=0.25, split_seed=1)
    kinds = {column["name"]: column["kind"] for column in table.encoder.columns}
    assert kinds == {"age": "numeric", "income": "numeric", "city": "categorical", "size": "ordinal",
                     "zip": "categorical", "member": "numeric"}
    assert table.classes == ("no", "yes") and table.encoder.cardinalities == (4, 3)  # 3 cities, 2 zips, + unseen.
    test = splits.drawn_test((frame.churn == "yes").to_numpy(), 0.25, 1, where="")
    np.testing.assert_array_equal(table.labels["test"], (frame.churn[test] == "yes").to_numpy())
    for churn in ("yes", "no"):
        assert np.sum(frame.churn[test] == churn) == round(0.25 * np.sum(frame.churn == churn))
    age = next(column for column in table.encoder.columns if column["name"] == "age")
    assert age["mean"] == pytest.approx(frame.age[~test].mean()) and age["std"] == pytest.approx(frame.age[~test].std(ddof=0))
    levels = next(column for column in table.encoder.columns if column["name"] == "size")["levels"]
    assert levels == ["S", "M", "L"]


@pytest.mark.parametrize("content, changes, message", [
    ("a,b\n1,2\n3,4\n", dict(label="c", ordinal="", categorical="", ignore=""), r"has no column 'c' \(named in data.csv\)"),
    ("a;b;c\n1;2;3\n", dict(label="", ordinal="", categorical="", ignore=""), "is it separated by another character"),
    ("a,size\n1,S\n2,XL\n3,M\n", dict(label="", ordinal="size:S<M<L", categorical="", ignore=""),
     "column 'size' holds 'XL' at row 1, not one of its data.csv.ordinal levels"),
    ("a,b\n1,\n3,\n5,\n", dict(label="", ordinal="", categorical="", ignore=""), "column 'b' has no value"),
    ("a,b,y\n1,2,x\n3,4,\n", dict(label="y", ordinal="", categorical="", ignore=""), "label column 'y' is missing at row 1"),
])
def test_a_bad_file_or_option_is_refused_in_one_line(tmp_path, content, changes, message):
    (tmp_path / "t.csv").write_text(content)
    with pytest.raises(DataError, match=message) as error:
        csv_table.read(str(tmp_path / "t.csv"), options(**changes), test_fraction=0.5, split_seed=0)
    assert "\n" not in str(error.value)
    with pytest.raises(DataError, match="must read 'column:low<mid<high'"):
        options(ordinal="size:S")


def test_a_tabular_run_on_a_csv_file_with_missing_cells_scores_and_imputes_its_raw_rows_when_loaded(tmp_path):
    from jaxae.tools import encode

    frame = customers()
    frame.loc[::7, "income"] = np.nan  # Missing cells, written as empty fields.
    frame.loc[3::11, "city"] = None
    frame.to_csv(tmp_path / "customers.csv", index=False)
    config = csv_config(tmp_path / "customers.csv", tmp_path / "tfds")
    result = loop.run(config, str(tmp_path / "run"))
    assert np.isfinite(result.eval_metrics["eval/score"])
    model = jaxae.load(str(tmp_path / "run"), mesh=parallel.make_mesh(1))
    assert model.config.table.cardinalities == (4, 3)  # Set from the file's categories, and recorded.
    assert model.config.table.missing  # Set by the file's missing cells: they are masked out of the loss.
    test = splits.drawn_test((frame.churn == "no").to_numpy(), config.data.test_fraction, 0, where="")
    split = sources.open_tfds("csv", "test", config.data.tfds_data_dir, config.data)
    fields = host.read_all(split, list(model.input_fields))
    raw = frame[test].reset_index(drop=True)  # As read from the file: the id, label, zip and size columns too.
    np.testing.assert_allclose(model.scores(raw), model.scores_fields(*[fields[name] for name in model.input_fields]),
                               rtol=1e-6)
    assert not fields["numeric_observed"].all() and not fields["categorical_observed"].all()
    filled = model.impute(raw)
    assert filled[["income", "city"]].notna().all().all() and set(filled.city) <= {"Paris", "Lyon", "Nice"}
    kept = raw.income.notna()
    np.testing.assert_array_equal(filled.income[kept], raw.income[kept])
    np.testing.assert_allclose(model.scores(raw).mean(), result.eval_metrics["eval/score"], rtol=1e-5)
    out = tmp_path / "scores.npz"
    assert encode.main(["--workdir", str(tmp_path / "run"), "--rows", str(tmp_path / "customers.csv"),
                        "--out", str(out)]) == 0
    np.testing.assert_allclose(np.load(out)["scores"][test], model.scores(raw), rtol=1e-6)
    reconstructed = model.reconstruct(raw.head(4))
    assert list(reconstructed.columns) == ["age", "income", "city", "size", "zip", "member"]
    config.table.cardinalities = (5, 3)
    with pytest.raises(ConfigError, match=r"table.cardinalities=\(5, 3\), but .* sets it to \(4, 3\)"):
        loop.run(config, str(tmp_path / "other"))


def test_an_estimators_run_on_rows_with_holes_loads_as_a_model_of_raw_rows_with_its_scores(tmp_path):
    frame = customers(rows=64).drop(columns=["id", "churn"])
    frame["size"] = pd.Categorical(frame["size"], categories=["S", "M", "L"], ordered=True)
    frame.loc[::5, "age"] = np.nan
    frame.loc[2::9, "size"] = None
    detector = jaxae.AnomalyDetector(epochs=2, batch_size=16, hide_fraction=0.2, random_state=0).fit(frame)
    model = jaxae.load(detector.workdir_)
    scores = detector.decision_function(frame)
    assert np.isfinite(scores).all()
    np.testing.assert_allclose(model.scores(frame), scores, rtol=1e-6)
    filled = detector.impute(frame)
    assert filled.notna().all().all() and list(filled.columns) == list(frame.columns)
    pd.testing.assert_frame_equal(detector.impute(frame, batch_size=5), filled, rtol=1e-5)


def test_number_like_categories_read_alike_with_and_without_gaps_and_a_column_named_twice_is_refused(tmp_path):
    frame = customers(rows=40)
    frame.loc[5, "zip"] = None  # pandas now reads the zip codes as floats: 75001.0.
    frame.to_csv(tmp_path / "gaps.csv", index=False)
    table = csv_table.read(str(tmp_path / "gaps.csv"), options(), test_fraction=0.25, split_seed=0)
    zip_codes = next(column for column in table.encoder.columns if column["name"] == "zip")
    assert zip_codes["categories"] == ["69001", "75001"]
    whole = customers(rows=40)  # The same rows without the gap: integers.
    inputs, _ = csv_table.typed_inputs(whole, options(), where="rows")
    fields = table.encoder.fields(inputs)
    assert (fields["categorical"][:, 1] < 2).all()  # No row of known codes taken for an unseen category.
    with pytest.raises(DataError, match="names the column 'zip' twice"):
        options(label="zip", categorical="zip")

