"""AutoRec: the masked loss, the ratings data (CSV, MovieLens-100K's source, the seeded split, the tfds
builder), the family through the loop (RMSE against NumPy, jaxae.load), and its config and data
errors. (1 against 8 devices and resuming: tests/test_every_family.py.)"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxae
from jaxae import losses
from jaxae.data import host, ratings, sources
from jaxae.devices import parallel
from jaxae.engine import loop
from jaxae.errors import ConfigError, DataError
import cases
from helpers import tiny, train


def autorec_config(**fields):
    """The tiny I-AutoRec on the synthetic ratings, short and saved often enough to kill it."""
    return tiny("autorec_ml100k", **({"checkpoint_every": 100, "eval_every": 0} | fields))


@pytest.fixture(scope="module")
def synthetic():
    return cases.prepared("ratings")


@pytest.fixture(scope="module")
def one(tmp_path_factory, synthetic):
    return train(tmp_path_factory.mktemp("autorec"), autorec_config(), synthetic)


def write_csv(path, table, header=True, delimiter=","):
    lines = ["user,item,rating"] if header else []
    lines += [delimiter.join([table.users[u], table.items[i], f"{r:g}"])
              for u, i, r in zip(table.user, table.item, table.rating)]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_the_masked_loss_ignores_unobserved_entries_exactly():
    rng = np.random.default_rng(0)
    predictions, targets = rng.normal(size=(2, 4, 6)).astype(np.float32)
    observed = rng.random((4, 6)) < 0.4
    expected = np.where(observed, (predictions - targets) ** 2, 0).sum(1)
    loss = jax.jit(losses.masked_squared_error)
    np.testing.assert_allclose(loss(predictions, targets, observed), expected, rtol=1e-6)
    # Other values wherever nothing is observed: the same loss, to the bit, and the same gradient.
    other_predictions = np.where(observed, predictions, 1e3).astype(np.float32)
    other_targets = np.where(observed, targets, -7.0).astype(np.float32)
    np.testing.assert_array_equal(loss(other_predictions, other_targets, observed), loss(predictions, targets, observed))
    gradient = jax.grad(lambda p, t: losses.masked_squared_error(p, t, observed).sum())
    np.testing.assert_array_equal(gradient(other_predictions, other_targets)[~observed], 0)
    np.testing.assert_allclose(gradient(predictions, targets), np.where(observed, 2 * (predictions - targets), 0),
                               rtol=1e-6)
    with pytest.raises(ValueError, match="observed"):
        losses.masked_squared_error(predictions, targets, observed[:, :3])


def test_a_ratings_csv_is_read_with_or_without_header_and_bad_lines_are_named(tmp_path):
    table = ratings.synthetic(num_users=12, num_items=9, density=0.5)
    for header, delimiter in [(True, ","), (False, "\t")]:
        again = ratings.read_csv(write_csv(tmp_path / f"r{header}.csv", table, header, delimiter))
        np.testing.assert_array_equal(again.users, table.users)
        np.testing.assert_array_equal(again.items, table.items)
        np.testing.assert_array_equal(again.rating, table.rating)
        np.testing.assert_array_equal(again.user, table.user)
    bad = tmp_path / "bad.csv"
    bad.write_text("user,item,rating\nu1,i1,4\nu2,i1,four\n")
    with pytest.raises(DataError, match=r"bad.csv line 3: the rating 'four' is not a number"):
        ratings.read_csv(str(bad))
    bad.write_text("u1,i1,4\nu1,i2\n")
    with pytest.raises(DataError, match=r"line 2: expected user,item,rating"):
        ratings.read_csv(str(bad))
    bad.write_text("u1,i1,4\nu2,i2,inf\n")
    with pytest.raises(DataError, match=r"line 2: the rating 'inf' is not finite"):
        ratings.read_csv(str(bad))
    # Blank lines before a tab-separated header are skipped, and the header is still one.
    bad.write_text("\n\nuser\titem\trating\nu1\ti1\t4\n")
    assert ratings.read_csv(str(bad)).rating.tolist() == [4.0]
    bad.write_text("u1,i1,4\nu2,i2,3\nu1,i1,5\n")
    with pytest.raises(DataError, match="user 'u1' rates item 'i1' more than once"):
        ratings.read_csv(str(bad))
    with pytest.raises(DataError, match="cannot read the ratings file"):
        ratings.read_csv(str(tmp_path / "missing.csv"))


def test_movielens_comes_from_recbole_and_its_absence_names_the_install(monkeypatch):
    def no_recbole(package):
        raise ModuleNotFoundError(package)

    monkeypatch.setattr(ratings.resources, "files", no_recbole)
    with pytest.raises(DataError, match=r"pip install --no-deps recbole"):
        ratings.load_table("ml-100k")


def test_movielens_100k_as_recbole_ships_it():
    pytest.importorskip("recbole")  # Not in the dev extra: a plain install of it pulls in torch.
    table = ratings.load_table("ml-100k")
    assert (len(table.users), len(table.items), len(table.rating)) == (943, 1682, 100_000)
    assert set(np.unique(table.rating)) == {1, 2, 3, 4, 5}
    titles = ratings.movielens_100k_titles()
    assert len(titles) == 1682 and titles["50"] == "Star Wars (1977)"


def test_the_split_holds_out_a_seeded_tenth_and_keeps_every_rating_once():
    table = ratings.synthetic()
    parts = ratings.splits(table, rows="items", seed=3, test_fraction=0.1)
    train, test = parts["train"], parts["test"]
    assert train["ratings"].shape == (len(table.items), len(table.users))
    assert test["held_out_observed"].sum() == round(0.1 * len(table.rating))
    assert not (train["observed"] & test["held_out_observed"]).any()
    every = np.zeros_like(train["ratings"])
    every[table.item, table.user] = table.rating
    np.testing.assert_array_equal(train["ratings"] + test["held_out"], every)
    np.testing.assert_array_equal(train["observed"] | test["held_out_observed"], every > 0)
    np.testing.assert_array_equal(test["ratings"], train["ratings"])  # The model's input in evaluation.
    users = ratings.splits(table, rows="users", seed=3, test_fraction=0.1)
    np.testing.assert_array_equal(users["test"]["held_out"], test["held_out"].T)
    other = ratings.splits(table, rows="items", seed=4, test_fraction=0.1)["test"]["held_out_observed"]
    assert (other != test["held_out_observed"]).any()


def test_the_family_learns_and_its_rmse_is_numpys_over_the_held_out_ratings(one, synthetic):
    train_split, test_split = synthetic
    metrics = one.eval_metrics
    rows = host.read_all(test_split, list(test_split.spec))
    observed, held = rows["observed"], rows["held_out_observed"]
    # The baseline every recommender must beat: each held-out rating predicted by the training mean.
    mean_rmse = np.sqrt(np.mean((rows["held_out"][held] - rows["ratings"][observed].mean()) ** 2))
    assert metrics["eval/rmse"] < 0.85 * mean_rmse
    assert metrics["eval/train_rmse"] < metrics["eval/rmse"]
    model = jaxae.load(one.workdir, mesh=parallel.make_mesh(1))
    predictions = model.predict(rows["ratings"], observed)
    assert predictions.min() >= 1 and predictions.max() <= 5
    np.testing.assert_array_equal(model.column_rated, observed.any(0))  # The start hook's finding.
    unknown = ~observed.any(1, keepdims=True) | ~observed.any(0, keepdims=True)
    assert np.all(predictions[np.broadcast_to(unknown, predictions.shape)] == 3.0)
    expected = np.sqrt(np.mean((predictions[held] - rows["held_out"][held]) ** 2))
    np.testing.assert_allclose(metrics["eval/rmse"], expected, rtol=1e-5)
    np.testing.assert_allclose(metrics["eval/mae"], np.mean(np.abs(predictions[held] - rows["held_out"][held])),
                               rtol=1e-5)
    codes = model.encode(rows["ratings"][:5])
    assert codes.shape == (5, 16) and np.all((codes >= 0) & (codes <= 1))  # Sigmoid units.
    assert model.column_vectors().shape == (train_split.spec["ratings"].shape[0], 16)


def test_a_users_csv_trains_u_autorec_and_an_edited_file_is_new_data(tmp_path):
    table = ratings.synthetic(num_users=40, num_items=24, density=0.5)
    path = write_csv(tmp_path / "mine.csv", table)
    config = autorec_config(num_steps=2, log_every=1, checkpoint_every=2, eval_every=0, data__tfds_data_dir=str(tmp_path / "tfds"))
    config.data.ratings.source, config.data.ratings.rows = path, "users"
    result = loop.run(config, str(tmp_path / "run"))
    assert np.isfinite(result.eval_metrics["eval/rmse"])
    train_split = sources.open_tfds("ratings", "train", str(tmp_path / "tfds"), config.data)
    assert len(train_split) == 40 and train_split.spec["ratings"].shape == (24,)
    # Stored in row order, so the ids of the rows (users here) and columns recorded beside the data
    # name each example and each column.
    expected = ratings.splits(table, rows="users", seed=0, test_fraction=0.1)["train"]
    np.testing.assert_array_equal(host.read_all(train_split, ["ratings"])["ratings"], expected["ratings"])
    assert train_split.metadata["row_ids"] == table.users.tolist()
    assert train_split.metadata["column_ids"] == table.items.tolist()
    assert (train_split.metadata["rating_min"], train_split.metadata["rating_max"]) == (1.0, 5.0)
    before = train_split.fingerprint()
    assert ratings.source_tag(path) in before and "users" in before
    write_csv(tmp_path / "mine.csv", ratings.synthetic(num_users=40, num_items=24, density=0.5, seed=1))
    assert sources.open_tfds("ratings", "train", str(tmp_path / "tfds"), config.data).fingerprint() != before


def test_config_and_data_errors_are_one_line_before_training(tmp_path, synthetic):
    for field, value, message in [("autorec.rating_range", (5.0, 1.0), r"rating_range=\(5.0, 1.0\) must be"),
                                  ("autorec.default_rating", 6.0, "default_rating"),
                                  ("data.ratings.rows", "films", "data.ratings.rows"),
                                  ("data.ratings.source", str(tmp_path / "nowhere.csv"), r"neither one of \['ml-100k'"),
                                  ("autorec.rating_range", (0.0, 5.0), "0 < lowest < highest"),
                                  ("autorec.rating_range", (1.0,), "must be"),
                                  ("data.ratings.test_fraction", 1.0, "test_fraction=1.0 must be < 1")]:
        config = autorec_config()
        *sections, name = field.split(".")
        target = config
        for section in sections:
            target = target[section]
        target[name] = value
        with pytest.raises(ConfigError, match=message):
            loop.train(config, str(tmp_path / "never"), *synthetic)
    # Ratings on another scale than the config's range are refused at the start, before any step.
    with pytest.raises(DataError, match=r"ratings lie in \[1, 5\] but autorec.rating_range=\(1, 4\)"):
        train(tmp_path / "scale", autorec_config(autorec__rating_range=(1.0, 4.0), autorec__default_rating=2.0), synthetic)


def test_the_familys_objective_is_the_papers_over_rows_as_the_numpy_reference_computes_it(synthetic):
    from benchmarks.autorec import reference_objective
    from jaxae.trainers import create_trainer

    train_split, _ = synthetic
    rows = host.read_all(train_split, ["ratings", "observed"])
    n = len(train_split)
    config = autorec_config(batch_size=n, autorec__l2=7.0)
    trainer = create_trainer(config, train_split.spec, n)
    state = jax.jit(trainer.init)(jax.random.key(0))
    batch = {name: jnp.asarray(values) for name, values in rows.items()} | {"index": jnp.arange(n)}
    _, metrics = jax.jit(trainer.train_step)(state, batch)  # The loss of the parameters before the step.
    params = jax.device_get(state.params)
    layers = [("encoder", "kernel"), ("encoder", "bias"), ("decoder", "kernel"), ("decoder", "bias")]
    flat = np.concatenate([np.ravel(params[layer][name]) for layer, name in layers])
    value, gradient = reference_objective(flat, rows["ratings"], rows["observed"].astype(np.float32), 16, 7.0)
    # The paper's objective (summed over rows, lambda/2 on the kernels) is N times the family's mean.
    np.testing.assert_allclose(float(metrics["loss"]) * n, value, rtol=1e-5)

    def family_objective(params):
        predictions, _ = trainer.model.apply({"params": params}, batch["ratings"])
        mean = losses.masked_squared_error(predictions, batch["ratings"], batch["observed"]).mean()
        return n * (mean + 7.0 / n * losses.l2_penalty(params))

    grads = jax.grad(family_objective)(params)
    expected = np.concatenate([np.ravel(grads[layer][name]) for layer, name in layers])
    np.testing.assert_allclose(gradient, expected, rtol=1e-4, atol=1e-4)
