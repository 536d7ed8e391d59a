"""Embedded tfds data sets, batch order, the streaming pipeline and user-array validation."""

import numpy as np
import pytest

from jaxae.data import builders, pipeline, sources
from jaxae.errors import DataError


@pytest.fixture(scope="module")
def mnist():
    return {split: sources.open_tfds("mnist_5k", split) for split in ("train", "test")}


def test_mnist_5k_has_the_documented_split(mnist):
    assert len(mnist["train"]) == 4000 and len(mnist["test"]) == 1000
    assert mnist["train"].image_shape == (28, 28, 1) and mnist["train"].image_dtype == np.uint8
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


def test_stream_matches_the_order_and_splits_across_processes():
    images = np.arange(40 * 4, dtype=np.uint8).reshape(40, 2, 2, 1)
    source = sources.ArraySource(images, np.arange(40))
    order = pipeline.BatchOrder(40, 8, seed=1)
    streamed = list(pipeline.stream_batches(source, order, 3, 9))
    assert len(streamed) == 6
    for step, batch in zip(range(3, 9), streamed):
        np.testing.assert_array_equal(batch["label"], order.batch_indices(step))
    halves = [list(pipeline.stream_batches(source, order, 3, 9, process_index=p, process_count=2)) for p in (0, 1)]
    for whole, first, second in zip(streamed, *halves):
        np.testing.assert_array_equal(np.concatenate([first["image"], second["image"]]), whole["image"])


def test_eval_batches_cover_every_example_once_with_padding_masked():
    source = sources.ArraySource(np.arange(10, dtype=np.uint8).reshape(10, 1, 1, 1))
    seen = list(pipeline.eval_batches(source, 4))
    assert [start for _, _, start in seen] == [0, 4, 8]
    values = np.concatenate([images[mask > 0].ravel() for images, mask, _ in seen])
    np.testing.assert_array_equal(values, np.arange(10))


def test_array_source_names_the_first_nan():
    images = np.zeros((5, 4, 4), np.float32)
    images[3, 1, 2] = np.nan
    with pytest.raises(DataError, match=r"at index \(3, 1, 2, 0\)"):
        sources.ArraySource(images)


@pytest.mark.parametrize("images, message", [
    (np.zeros((5, 4), np.float32), "must be \\[n, height, width, channels\\]"),
    (np.zeros((5, 4, 4, 1), np.int32), "dtype int32"),
    (np.full((5, 4, 4, 1), 2.0), "must lie in \\[0, 1\\]"),
    (np.zeros((0, 4, 4, 1), np.uint8), "empty"),
])
def test_array_source_rejects_bad_images(images, message):
    with pytest.raises(DataError, match=message):
        sources.ArraySource(images)


def test_array_source_rejects_mismatched_labels():
    with pytest.raises(DataError, match="labels must be \\[n\\] = \\[5\\]"):
        sources.ArraySource(np.zeros((5, 4, 4, 1), np.uint8), np.zeros(4, np.int64))


class UncheckedSource:
    """A source that does not validate what it returns, like a tfds data set with bad float images."""

    def __init__(self, images):
        self.images, self.image_shape, self.image_dtype = images, images.shape[1:], images.dtype
        self.name, self.split = "bad_set", "train"

    def __len__(self):
        return len(self.images)

    def read(self, indices):
        indices = np.asarray(indices)
        return {"image": self.images[indices], "label": np.zeros(len(indices), np.int64)}


def bad_images():
    images = np.random.default_rng(0).uniform(size=(40, 4, 4, 1)).astype(np.float32)
    images[17, 2, 3, 0] = np.nan
    return images


def test_streamed_float_batches_name_the_bad_example():
    order = pipeline.BatchOrder(40, 8, seed=0)
    step = next(s for s in range(5) if 17 in order.batch_indices(s))
    batches = pipeline.stream_batches(UncheckedSource(bad_images()), order, step, step + 1)
    with pytest.raises(DataError, match="training example 17 has image value nan"):
        next(batches)


def test_device_resident_read_validates_the_whole_split():
    from jaxae.runners import read_all

    with pytest.raises(DataError, match=r"bad_set train images has 1 non-finite values; the first is nan at index \(17, 2, 3, 0\)"):
        read_all(UncheckedSource(bad_images()))
