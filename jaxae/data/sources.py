"""Random-access sources of examples: tfds data sets (embedded or prepared) and NumPy arrays.

This is the only module that talks to tfds. A source is anything with ``len()`` and
``read(indices) -> {'image': [n, H, W, C], 'label': [n]}``; the pipeline and the device-resident
path only ever call those two.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Protocol, Sequence

import numpy as np

from jaxae.errors import DataError


class Source(Protocol):
    """What the pipeline needs from a split: its length and batched random access."""

    image_shape: tuple[int, int, int]
    image_dtype: np.dtype

    def __len__(self) -> int: ...

    def read(self, indices: Sequence[int]) -> dict[str, np.ndarray]: ...


@dataclasses.dataclass
class ArraySource:
    """A split held in memory.

    Attributes:
      images: [n, height, width, channels], uint8 in [0, 255] or floating in [0, 1].
      labels: [n] integer class labels, or None (then zeros).
    """

    images: np.ndarray
    labels: np.ndarray | None = None

    def __post_init__(self):
        self.images, self.labels = validate_arrays(self.images, self.labels)
        self.image_shape = tuple(self.images.shape[1:])
        self.image_dtype = self.images.dtype

    def __len__(self) -> int:
        return len(self.images)

    def read(self, indices):
        indices = np.asarray(indices)
        return {"image": self.images[indices], "label": self.labels[indices]}


def validate_arrays(images, labels=None, *, name: str = "images") -> tuple[np.ndarray, np.ndarray]:
    """Checks user arrays before any compile and returns them as (images [n,H,W,C], labels [n]).

    Raises:
      DataError: naming the array, the offending index and value: wrong rank or dtype, NaN or
        infinite values, floats outside [0, 1], label count different from image count.
    """
    images = np.asarray(images)
    if images.ndim == 3:  # [n, H, W]: grey images without a channel axis.
        images = images[..., None]
    if images.ndim != 4:
        raise DataError(f"{name} must be [n, height, width, channels] (or [n, height, width]); "
                        f"got shape {images.shape}")
    if len(images) == 0:
        raise DataError(f"{name} is empty: shape {images.shape}")
    if images.dtype == np.uint8:
        pass
    elif np.issubdtype(images.dtype, np.floating):
        bad = ~np.isfinite(images)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise DataError(f"{name} has {int(bad.sum())} non-finite values; the first is "
                            f"{images[where]} at index {where}")
        outside = (images < 0) | (images > 1)
        if outside.any():
            where = tuple(int(i) for i in np.argwhere(outside)[0])
            raise DataError(f"{name} must lie in [0, 1] when floating point (or be uint8 in "
                            f"[0, 255]); found {images[where]} at index {where}")
        images = images.astype(np.float32)
    else:
        raise DataError(f"{name} must be uint8 in [0, 255] or floating in [0, 1]; got dtype "
                        f"{images.dtype}")
    if labels is None:
        labels = np.zeros(len(images), np.int64)
    labels = np.asarray(labels)
    if labels.shape != (len(images),):
        raise DataError(f"labels must be [n] = [{len(images)}] to match {name}; got shape "
                        f"{labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"labels must be integers; got dtype {labels.dtype}")
    return images, labels.astype(np.int64)


class TfdsSource:
    """One split of a prepared tfds data set, read through `tfds.data_source` (no TensorFlow)."""

    def __init__(self, data_source, name: str, split: str):
        self._source = data_source
        self.name, self.split = name, split
        features = data_source.dataset_info.features
        if "image" not in features:
            raise DataError(f"tfds data set {name!r} has no 'image' feature; its features are "
                            f"{sorted(features.keys())}")
        image = features["image"]
        self.image_shape = tuple(image.shape)
        self.image_dtype = np.dtype(image.np_dtype)
        self._has_label = "label" in features
        if self.image_dtype != np.uint8 and not np.issubdtype(self.image_dtype, np.floating):
            raise DataError(f"tfds data set {name!r} stores images as {self.image_dtype}; jaxae takes uint8 in "
                            f"[0, 255] or floats in [0, 1]")
        if None in self.image_shape:
            raise DataError(f"tfds data set {name!r} has images of variable shape "
                            f"{self.image_shape}; jaxae needs a fixed shape")

    def __len__(self) -> int:
        return len(self._source)

    def read(self, indices):
        records = self._source.__getitems__([int(i) for i in indices])
        images = np.stack([record["image"] for record in records])
        if self._has_label:
            labels = np.asarray([record["label"] for record in records], np.int64)
        else:
            labels = np.zeros(len(records), np.int64)
        return {"image": images, "label": labels}


def default_data_dir() -> str:
    """tfds' own default: $TFDS_DATA_DIR, else ~/tensorflow_datasets."""
    return os.environ.get("TFDS_DATA_DIR", os.path.join(os.path.expanduser("~"), "tensorflow_datasets"))


def prepare_embedded(name: str, data_dir: str | None = None) -> None:
    """Writes an embedded data set's array_record files into `data_dir` unless they are there.

    In a multi-process run only process 0 calls this, before the others open the data set.
    """
    from jaxae.data import builders

    if name not in builders.EMBEDDED_BUILDERS:
        return
    builder = builders.EMBEDDED_BUILDERS[name](data_dir=data_dir or default_data_dir(), file_format="array_record")
    if not builder.is_prepared():
        builder.download_and_prepare()


def open_tfds(name: str, split: str, data_dir: str | None = None) -> TfdsSource:
    """Opens `split` of the tfds data set `name`, preparing the embedded ones on first use.

    Raises:
      DataError: the data set is neither embedded nor prepared in `data_dir`, with how to prepare it.
    """
    import tensorflow_datasets as tfds  # Heavy: only when data is actually opened.

    from jaxae.data import builders

    data_dir = data_dir or default_data_dir()
    if name in builders.EMBEDDED_BUILDERS:
        prepare_embedded(name, data_dir)
        sources = builders.EMBEDDED_BUILDERS[name](data_dir=data_dir, file_format="array_record").as_data_source()
    else:
        try:
            sources = tfds.data_source(name, data_dir=data_dir, download=False)
        except Exception as error:  # tfds raises several types: unknown name, not prepared, ...
            raise DataError(
                f"data.name={name!r} is not an embedded data set ({sorted(builders.EMBEDDED_BUILDERS)}) "
                f"and could not be opened from data.tfds_data_dir={data_dir!r} "
                f"({str(error).strip().splitlines()[0]}). Prepare it once "
                f"on a machine with network access: pip install 'jaxae[tensorflow]' && tfds build "
                f"{name} --file_format=array_record --data_dir={data_dir}") from None
    if split not in sources:
        raise DataError(f"tfds data set {name!r} has no split {split!r}; it has {sorted(sources)}")
    return TfdsSource(sources[split], name, split)
