"""Embedded tfds data sets, typed fields, batch order, the streaming pipeline and validation."""

import numpy as np
import pytest

from jaxae.data import builders, host, pipeline, sources, spec as specs
from jaxae.errors import DataError


@pytest.fixture(scope="module")
def mnist():
    return {split: sources.open_tfds("mnist_5k", split) for split in ("train", "test")}


def test_mnist_5k_has_the_documented_split(mnist):
    assert len(mnist["train"]) == 4000 and len(mnist["test"]) == 1000
    assert mnist["train"].spec == {"image": specs.Field("image", (28, 28, 1), "uint8"),
                                   "label": specs.Field("label", (), "int32", vocab_size=10)}
    labels = sources.open_tfds("mnist_5k", "test").read(np.arange(1000))["label"]
    np.testing.assert_array_equal(np.bincount(labels), np.full(10, 100))
    # The test split is the last 100 images of each class in the vendored file, exactly.
    images, all_labels = builders.load_mnist_5k_arrays()
    test_rows = np.concatenate([np.flatnonzero(all_labels == c)[400:] for c in range(10)])
    stored = mnist["test"].read(np.arange(1000))["image"]
    key = lambda imgs: sorted(img.tobytes() for img in imgs)
    assert key(stored) == key(images[test_rows])


def test_sklearn_digits_split_and_scaling():
    train, test = (sources.open_tfds("sklearn_digits", s) for s in ("train", "test"))
    assert len(train) + len(test) == 1797
    assert len(test) == sum(n // 5 for n in np.bincount(builders.load_sklearn_digits_arrays()[1]))
    images = train.read(np.arange(len(train)))["image"]
    assert images.shape[1:] == (8, 8, 1) and images.max() == 255


def test_unknown_tfds_name_says_how_to_prepare_it(tmp_path):
    with pytest.raises(DataError, match="tfds build no_such_dataset --file_format=array_record"):
        sources.open_tfds("no_such_dataset", "train", str(tmp_path))


def test_batch_order_is_a_pure_function_of_seed_and_step():
    a, b = pipeline.BatchOrder(100, 32, seed=7), pipeline.BatchOrder(100, 32, seed=7)
    assert a.steps_per_epoch == 3  # 100 // 32: the remainder of each epoch is dropped.
    np.testing.assert_array_equal(a.chunk_indices(5, 4), np.stack([b.batch_indices(s) for s in range(5, 9)]))
    epoch = np.concatenate([a.batch_indices(s) for s in range(3)])
    assert len(set(epoch.tolist())) == 96  # No repeats within an epoch.
    assert not np.array_equal(a.batch_indices(0), a.batch_indices(3))  # Epochs reshuffle.
    assert not np.array_equal(a.batch_indices(0), pipeline.BatchOrder(100, 32, seed=8).batch_indices(0))


def test_stream_matches_the_order_carries_indices_and_splits_across_processes():
    images = np.arange(40 * 4, dtype=np.uint8).reshape(40, 2, 2, 1)
    source = sources.ArraySource.from_images(images, np.arange(40))
    order = pipeline.BatchOrder(40, 8, seed=1)
    streamed = list(pipeline.stream_batches(source, order, 3, 9, ["image", "label"]))
    assert len(streamed) == 6
    for step, batch in zip(range(3, 9), streamed):
        np.testing.assert_array_equal(batch["label"], order.batch_indices(step))
        np.testing.assert_array_equal(batch["index"], order.batch_indices(step))
        assert batch["index"].dtype == np.int32
    halves = [list(pipeline.stream_batches(source, order, 3, 9, ["image"], process_index=p, process_count=2))
              for p in (0, 1)]
    for whole, first, second in zip(streamed, *halves):
        assert set(first) == {"image", "index"}  # Only the fields asked for, and the index.
        np.testing.assert_array_equal(np.concatenate([first["image"], second["image"]]), whole["image"])


def test_padded_batches_cover_every_example_once_with_padding_masked():
    seen = list(pipeline.padded_batches(10, 4))
    assert len(seen) == 3
    indices = np.concatenate([indices[mask > 0] for indices, mask in seen])
    np.testing.assert_array_equal(indices, np.arange(10))
    assert seen[-1][1].tolist() == [1, 1, 0, 0]
    halves = [list(pipeline.padded_batches(10, 4, process_index=p, process_count=2)) for p in (0, 1)]
    for (whole, _), (first, _), (second, _) in zip(seen, *halves):
        np.testing.assert_array_equal(np.concatenate([first, second]), whole)


def test_array_source_names_the_first_nan():
    images = np.zeros((5, 4, 4), np.float32)
    images[3, 1, 2] = np.nan
    with pytest.raises(DataError, match=r"field 'image' must be finite and lie in \[0, 1\]; example 3 at \(1, 2, 0\) has nan"):
        sources.ArraySource.from_images(images)


@pytest.mark.parametrize("images, message", [
    (np.zeros((5, 4), np.float32), "must be \\[n, height, width, channels\\]"),
    (np.zeros((5, 4, 4, 1), np.int32), "dtype int32"),
    (np.full((5, 4, 4, 1), 2.0), "must be finite and lie in \\[0, 1\\]; example 0 at \\(0, 0, 0\\) has 2.0"),
    (np.zeros((0, 4, 4, 1), np.uint8), "empty"),
])
def test_array_source_rejects_bad_images(images, message):
    with pytest.raises(DataError, match=message):
        sources.ArraySource.from_images(images)


def test_array_source_rejects_mismatched_lengths():
    with pytest.raises(DataError, match="the same n; got lengths \\{'image': 5, 'label': 4\\}"):
        sources.ArraySource.from_images(np.zeros((5, 4, 4, 1), np.uint8), np.zeros(4, np.int64))


@pytest.mark.parametrize("kind, values, vocab, message", [
    ("ids", np.array([[1, 2], [3, 7]]), 5, r"field 'token' must lie in \[0, 5\); example 1 at \(1,\) has 7"),
    ("ids", np.array([0, -1, 2]), None, r"field 'token' must be >= 0; example 1 has -1"),
    ("ids", np.array([0.5, 1.0]), 5, "field 'token' must hold integers; got dtype float64"),
    ("dense", np.array([[0.0, np.inf]]), None, r"field 'token' must be finite; example 0 at \(1,\) has inf"),
    ("dense", np.array([1, 2]), None, "field 'token' must be floating point"),
    ("mask", np.array([0, 1, 2]), None, "field 'token' must be 0 or 1; example 2 has 2"),
    ("label", np.array([0, 3]), 3, r"field 'token' must lie in \[0, 3\); example 1 has 3"),
])
def test_every_kind_is_checked_naming_field_and_example(kind, values, vocab, message):
    with pytest.raises(DataError, match=message):
        sources.ArraySource({"token": values}, kinds={"token": kind}, vocab_sizes={"token": vocab} if vocab else None)


def test_typed_fields_travel_in_jax_dtypes_and_need_a_kind():
    source = sources.ArraySource({"token": np.array([3, 1, 4], np.int64), "weight": np.array([0.5, 1.0, 2.0])},
                                 kinds={"token": "ids", "weight": "dense"}, vocab_sizes={"token": 10})
    assert source.spec["token"] == specs.Field("ids", (), "int32", vocab_size=10)
    assert source.read([2, 0])["weight"].dtype == np.float32
    with pytest.raises(DataError, match="field 'weight': say its kind"):
        sources.ArraySource({"weight": np.ones(3)})


def test_fingerprints_follow_content_not_identity():
    images = np.random.default_rng(0).integers(0, 255, (6, 2, 2, 1), dtype=np.uint8)
    a, b = sources.ArraySource.from_images(images), sources.ArraySource.from_images(images.copy())
    changed = images.copy()
    changed[3, 1, 1, 0] ^= 1
    assert a.fingerprint() == b.fingerprint() != sources.ArraySource.from_images(changed).fingerprint()
    assert sources.open_tfds("mnist_5k", "train").fingerprint() != sources.open_tfds("mnist_5k", "test").fingerprint()


def test_requirements_name_the_missing_or_mistyped_field():
    source = sources.ArraySource.from_images(np.zeros((4, 2, 2, 1), np.uint8))
    specs.require(source.spec, {"image": "image"}, who="trainer='x'", where="train")
    with pytest.raises(DataError, match=r"trainer='x' needs a field 'label' \(label\) but train has only \['image'\]"):
        specs.require(source.spec, {"label": "label"}, who="trainer='x'", where="train")
    with pytest.raises(DataError, match="needs field 'image' as dense, but in train it is image"):
        specs.require(source.spec, {"image": "dense"}, who="trainer='x'", where="train")


class UncheckedSource:
    """A source that does not validate what it holds, like a tfds data set with bad float images."""

    def __init__(self, images):
        self.images, self.where = images, "bad_set train"
        self.spec = {"image": specs.Field("image", images.shape[1:], images.dtype)}

    def __len__(self):
        return len(self.images)

    def read(self, indices, fields=None):
        return {"image": self.images[np.asarray(indices)]}


def bad_images():
    images = np.random.default_rng(0).uniform(size=(40, 4, 4, 1)).astype(np.float32)
    images[17, 2, 3, 0] = np.nan
    return images


def test_streamed_float_batches_name_the_bad_example():
    order = pipeline.BatchOrder(40, 8, seed=0)
    step = next(s for s in range(5) if 17 in order.batch_indices(s))
    batches = pipeline.stream_batches(UncheckedSource(bad_images()), order, step, step + 1, ["image"])
    with pytest.raises(DataError, match=r"bad_set train field 'image' .*; example 17 at \(2, 3, 0\) has nan"):
        next(batches)


def test_device_resident_read_validates_the_whole_split():
    with pytest.raises(DataError, match=r"bad_set train field 'image' .*; example 17 at \(2, 3, 0\) has nan \(1 bad values\)"):
        host.read_all(UncheckedSource(bad_images()))


def test_a_split_decoded_into_host_memory_keeps_the_sources_spec_and_dtypes():
    """`in_host_memory` checks each value once, as it reads it, and the ArraySource it makes takes the
    source's spec: a reader that returns float64 under a float32 spec is cast, fields must match."""

    class Float64Reader(UncheckedSource):
        def read(self, indices, fields=None):
            return {"image": self.images[np.asarray(indices)].astype(np.float64)}

        def fingerprint(self):
            return "float64 reader"

    images = np.random.default_rng(0).uniform(size=(40, 4, 4, 1)).astype(np.float32)
    decoded = host.in_host_memory(Float64Reader(images), budget_mb=1)
    assert decoded.values_checked and decoded.spec == Float64Reader(images).spec
    assert decoded.arrays["image"].dtype == np.float32 and host.split_bytes(decoded) == images.nbytes
    np.testing.assert_array_equal(decoded.arrays["image"], images)
    with pytest.raises(DataError, match="bad_set train field 'image' .*example 17"):
        host.in_host_memory(Float64Reader(bad_images()), budget_mb=1)
    with pytest.raises(DataError, match=r"checked_spec has fields \['label'\], the arrays \['image'\]"):
        sources.ArraySource({"image": images}, checked_spec={"label": specs.Field("label", (), np.int32)})
    with pytest.raises(DataError, match=r"field 'image' must be \[n, 4, 4, 1\] per example; got shape \(40, 4, 4\)"):
        sources.ArraySource({"image": images[..., 0]}, checked_spec=Float64Reader(images).spec)
