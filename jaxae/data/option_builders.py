"""tfds builders of data made from the config's options, each choice of them a builder config of its
own, named by the options and, for a user's files, their content (so edited files are prepared anew):

* ``ratings``: a rating matrix's rows for AutoRec (`jaxae.data.ratings`), from ``data.ratings``
  (source, rows, split_seed, test_fraction), named like ``ml-100k-items-seed0-test0.1``.
* ``corpus``: a text corpus for skip-gram (`jaxae.data.corpus`), from ``data.corpus`` (source,
  min_count, chunk_length), named like ``wiki-mc5-len1024``. Both splits hold every chunk (word2vec
  evaluates on the corpus it trains on); the metadata keeps the vocabulary's words and counts.
* ``image_folder``: a folder of images (`jaxae.data.image_folder`), from ``data.path``,
  ``data.image_size``, ``data.channels`` and, without train/ and test/, ``data.test_fraction`` and
  ``data.split_seed``; named like ``photos-<hash>-64x64x3-seed0-test0.1``.
* ``csv``: a CSV table for the tabular family (`jaxae.data.csv_table`), from ``data.path``,
  ``data.csv`` (label, categorical, ordinal, ignore, delimiter), ``data.test_fraction`` and
  ``data.split_seed``; named like ``sales-<hash>-<options hash>-seed0-test0.1``.

`builders.EMBEDDED_BUILDERS` lists them with the data sets that ship with jaxae.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import tensorflow_datasets as tfds

from jaxae.config.defaults import get_base_config
from jaxae.errors import DataError


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
        return _rows(fields)


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
        return _rows(chunks)


class ImageFolderConfig(tfds.core.BuilderConfig):
    """One folder's content, image shape and split (`data.path`, `data.image_size`, `data.channels`,
    `data.test_fraction`, `data.split_seed`): see `jaxae.data.image_folder`."""

    def __init__(self, *, path: str, image_size: int, channels: int, test_fraction: float, split_seed: int):
        from jaxae.data import image_folder

        self.folder = image_folder.scan(path, test_fraction=test_fraction, split_seed=split_seed)
        unset = get_base_config().data
        if self.folder.given_splits and (test_fraction, split_seed) != (unset.test_fraction, unset.split_seed):
            raise DataError(f"{self.folder.root} holds train/ and test/, so data.test_fraction and data.split_seed "
                            "draw nothing; leave them unset")
        self.shape = self.folder.shape(image_size, channels)
        split = "given" if self.folder.given_splits else f"seed{split_seed}-test{test_fraction:g}"
        name = f"{self.folder.tag()}-{'x'.join(map(str, self.shape))}-{split}"
        super().__init__(name=name, version=tfds.core.Version("1.0.0"), release_notes={"1.0.0": "First release."})


class ImageFolder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """A folder of images, decoded to one shape, with labels when it has class folders; the metadata
    keeps the folder, the class names and each split's files in example order."""

    name = "image_folder"
    VERSION = tfds.core.Version("1.0.0")

    def _info(self) -> tfds.core.DatasetInfo:
        folder = self.builder_config.folder
        features = {"image": tfds.features.Tensor(shape=self.builder_config.shape, dtype=np.uint8)}
        if folder.classes:
            features["label"] = tfds.features.ClassLabel(names=list(folder.classes))
        return tfds.core.DatasetInfo(
            builder=self,
            description=self.__doc__,
            features=tfds.features.FeaturesDict(features),
            metadata=tfds.core.MetadataDict(root=folder.root, classes=list(folder.classes),
                                            files={split: [image.path for image in images]
                                                   for split, images in folder.splits.items()}),
            disable_shuffling=True,  # An example's index is its file's position in the metadata's list.
        )

    def describe(self) -> str:
        """What `prepare` says it prepares."""
        folder = self.builder_config.folder
        sizes = ", ".join(f"{len(images)} {split}" for split, images in folder.splits.items())
        classes = f"{len(folder.classes)} classes" if folder.classes else "no labels"
        skipped = f"; {len(folder.skipped)} files that are not images passed over" if folder.skipped else ""
        return (f"the image folder {folder.root} ({sizes}, {classes}, as {'x'.join(map(str, self.builder_config.shape))}"
                f"{skipped})")

    def _split_generators(self, dl_manager):
        del dl_manager
        folder = self.builder_config.folder
        return {split: self._generate_examples(split) for split in folder.splits}

    def _generate_examples(self, split) -> Iterator[tuple[int, dict]]:
        from jaxae.data import image_folder

        folder, shape = self.builder_config.folder, self.builder_config.shape
        for index, image in enumerate(folder.splits[split]):
            example = {"image": image_folder.decode(folder.root, image, shape)}
            if folder.classes:
                example["label"] = int(folder.labels[split][index])
            yield index, example


class CsvConfig(tfds.core.BuilderConfig):
    """One CSV file's content, column options and split (`data.path`, `data.csv`, `data.test_fraction`,
    `data.split_seed`): see `jaxae.data.csv_table`."""

    def __init__(self, *, path: str, options, test_fraction: float, split_seed: int):
        from jaxae.data import csv_table

        self.table = csv_table.read(path, options, test_fraction=test_fraction, split_seed=split_seed)
        self.transform = csv_table.transform_json(self.table, options)
        name = f"{self.table.tag()}-{options.tag()}-seed{split_seed}-test{test_fraction:g}"
        super().__init__(name=name, version=tfds.core.Version("1.0.0"), release_notes={"1.0.0": "First release."})


class CsvTable(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """A CSV table's rows as the tabular family's fields; the metadata keeps the column transform
    (`input_transform`, which a run records so that its loaded model takes raw rows), the
    categorical columns' id counts (`config_fields`: `table.cardinalities`) and the label's classes."""

    name = "csv"
    VERSION = tfds.core.Version("1.0.0")

    def _info(self) -> tfds.core.DatasetInfo:
        table = self.builder_config.table
        encoder = table.encoder
        features = {"numeric": tfds.features.Tensor(shape=(len(encoder.numeric_columns),), dtype=np.float32)}
        if encoder.categorical_columns:
            features["categorical"] = tfds.features.Tensor(shape=(len(encoder.categorical_columns),), dtype=np.int32)
        if table.has_missing:
            for name in [name for name in features if name in ("numeric", "categorical")]:
                features[f"{name}_observed"] = tfds.features.Tensor(shape=features[name].shape, dtype=np.bool_)
        if table.classes:
            features["label"] = tfds.features.ClassLabel(names=list(table.classes))
        return tfds.core.DatasetInfo(
            builder=self,
            description=self.__doc__,
            features=tfds.features.FeaturesDict(features),
            metadata=tfds.core.MetadataDict(
                path=table.path, input_transform=self.builder_config.transform, classes=list(table.classes),
                config_fields={"table.cardinalities": list(encoder.cardinalities), "table.missing": table.has_missing},
                vocab_sizes={"categorical": max(encoder.cardinalities, default=1)}),
            disable_shuffling=True,  # Rows in file order within each split.
        )

    def describe(self) -> str:
        """What `prepare` says it prepares."""
        table, encoder = self.builder_config.table, self.builder_config.table.encoder
        kinds = [column["kind"] for column in encoder.columns]
        counts = ", ".join(f"{kinds.count(kind)} {kind}" for kind in ("numeric", "ordinal", "categorical")
                           if kind in kinds)
        label = f"; label classes {list(table.classes)}" if table.classes else ""
        return (f"the CSV table {table.path} ({len(table.rows['train'])} train rows, {len(table.rows['test'])} test; "
                f"columns: {counts}{label})")

    def _split_generators(self, dl_manager):
        del dl_manager
        return {split: self._generate_examples(split) for split in ("train", "test")}

    def _generate_examples(self, split) -> Iterator[tuple[int, dict]]:
        return _rows(self.builder_config.table.fields(split))


def _rows(fields: dict) -> Iterator[tuple[int, dict]]:
    """(index, {name: the example's value}) of each example of {name: [n, ...]}, in order."""
    for index in range(len(next(iter(fields.values())))):
        yield index, {name: values[index] for name, values in fields.items()}


def builder_config(builder, data_config):
    """The tfds builder config that the config's data section asks of a builder that takes options."""
    if builder is CsvTable:
        from jaxae.data.csv_table import CsvOptions

        if data_config is None or not data_config.get("path") or "csv" not in data_config:
            raise DataError("data.name='csv' needs data.path, the CSV file, and a data.csv section (the tabular configs have one)")
        return CsvConfig(path=data_config.path, options=CsvOptions.of(data_config.csv),
                         test_fraction=float(data_config.test_fraction), split_seed=int(data_config.split_seed))
    if builder is ImageFolder:
        if data_config is None or not data_config.get("path"):
            raise DataError("data.name='image_folder' needs data.path, the folder of images")
        return ImageFolderConfig(path=data_config.path, image_size=int(data_config.image_size),
                                 channels=int(data_config.channels), test_fraction=float(data_config.test_fraction),
                                 split_seed=int(data_config.split_seed))
    section = {Ratings: "ratings", Corpus: "corpus"}[builder]
    if data_config is None or section not in data_config:
        raise DataError(f"data.name={builder.name!r} needs a data.{section} section")
    options = data_config[section]
    if builder is Ratings:
        return RatingsConfig(source=options.source, rows=options.rows, split_seed=int(options.split_seed),
                             test_fraction=float(options.test_fraction))
    return CorpusConfig(source=options.source, min_count=int(options.min_count), chunk_length=int(options.chunk_length))
