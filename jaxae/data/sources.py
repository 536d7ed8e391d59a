"""Random-access sources of examples: tfds data sets (embedded or prepared) and NumPy arrays.

This is the only module that talks to tfds. A source has ``len()``, a ``spec`` ({field name:
`spec.Field`}), a ``where`` (its name in messages), a ``fingerprint()`` of its content, and
``read(indices, fields=None) -> {name: [len(indices), ...]}``; the pipeline, the runners and the
evaluator only ever use those. Its ``origin`` (JSON) says where its data came from, so that tools
reading a finished run (`jaxae.encode`, `jaxae.plot`) open the same data or ask for it. A source
whose values were checked against its spec when it was made says so with ``values_checked = True``
(`ArraySource`); the readers check every other source's values as they read them
(`spec.check_read`), so each value is checked once, where it enters host memory.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
from typing import Mapping

import numpy as np

from jaxae.data import spec as specs
from jaxae.errors import DataError

# Fields whose name says their kind; ArraySource takes any other field's kind explicitly.
KIND_BY_NAME = {"image": "image", "label": "label", "mask": "mask"}


class _WithoutOpenCVAdvice(logging.Filter):
    """tfds advises installing OpenCV the first time it decodes an encoded image with PIL: a speed
    tip that alarms users and that jaxae, which decodes each split once, does not need."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "OpenCV is not installed" not in record.getMessage()


logging.getLogger("absl").addFilter(_WithoutOpenCVAdvice())


class ArraySource:
    """A split held in memory as NumPy arrays, validated field by field when it is made.

    Args:
      fields: {name: [n, ...] array}, all with the same n.
      kinds: {name: kind} for fields not named 'image', 'label' or 'mask' (see `spec.KINDS`).
      vocab_sizes: {name: size} for 'ids' fields (and class counts for 'label' fields), when known.
      name: how messages refer to this source.
      fingerprint: of the data these arrays were read from (default: a hash of their content).
      metadata: what the data's maker recorded beside it (a corpus: its vocabulary), as `TfdsSource.metadata`.
      origin: where the arrays were read from (default: arrays of the caller's, named `name`).
      checked_spec: the fields' spec, for arrays `host.read_all` read from a source of that spec and
        checked as it read them (`host.in_host_memory`): the arrays' fields and shapes are matched to
        it and their dtypes cast to its, but their values are not checked again.
    """

    values_checked = True  # Every value met the spec when the source was made (see the module's docstring).

    def __init__(self, fields: Mapping[str, np.ndarray], kinds: Mapping[str, str] | None = None,
                 vocab_sizes: Mapping[str, int] | None = None, *, name: str = "arrays", fingerprint: str | None = None,
                 metadata: Mapping | None = None, origin: Mapping | None = None, checked_spec: Mapping | None = None):
        kinds, vocab_sizes = dict(kinds or {}), dict(vocab_sizes or {})
        self.metadata = dict(metadata or {})
        self.origin = dict(origin or {"kind": "arrays", "name": name})
        self.where, self._fingerprint = name, fingerprint
        if not fields:
            raise DataError(f"{name} has no fields")
        self.arrays = {key: np.asarray(value) for key, value in fields.items()}
        lengths = {key: (len(value) if value.ndim else None) for key, value in self.arrays.items()}
        if len(set(lengths.values())) != 1 or None in lengths.values():
            raise DataError(f"{name}: every field must be [n, ...] with the same n; got lengths {lengths}")
        if not next(iter(lengths.values())):
            raise DataError(f"{name} is empty: lengths {lengths}")
        if checked_spec is not None:
            if set(checked_spec) != set(self.arrays):
                raise DataError(f"{name}: checked_spec has fields {sorted(checked_spec)}, "
                                f"the arrays {sorted(self.arrays)}")
            self.spec = dict(checked_spec)
            for key, field in self.spec.items():
                specs.check_shape(key, field, self.arrays[key], where=name)  # Cheap; the values were checked.
                self.arrays[key] = self.arrays[key].astype(field.dtype, copy=False)
            return
        self.spec = {}
        for key, values in self.arrays.items():
            kind = kinds.get(key, KIND_BY_NAME.get(key))
            if kind is None:
                raise DataError(f"{name} field {key!r}: say its kind with kinds={{{key!r}: ...}}, one of {list(specs.KINDS)}")
            self.spec[key] = specs.field_of(kind, values, vocab_sizes.get(key))
            specs.check_values(key, self.spec[key], values, where=name)
            self.arrays[key] = values.astype(self.spec[key].dtype, copy=False)  # After the check: no wrap-around.

    @classmethod
    def from_images(cls, images, labels=None, *, name: str = "images") -> "ArraySource":
        """Images [n, H, W, C] (or grey [n, H, W]), uint8 in [0, 255] or floating in [0, 1], and
        optional integer labels [n]."""
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[..., None]
        if images.ndim != 4:
            raise DataError(f"{name} must be [n, height, width, channels] (or [n, height, width]); got shape {images.shape}")
        fields = {"image": images} if labels is None else {"image": images, "label": np.asarray(labels)}
        return cls(fields, name=name)

    def __len__(self) -> int:
        return len(next(iter(self.arrays.values())))

    def read(self, indices, fields=None) -> dict[str, np.ndarray]:
        indices = np.asarray(indices)
        return {key: self.arrays[key][indices] for key in (fields or self.arrays)}

    def fingerprint(self) -> str:
        """A content hash: the same arrays give the same fingerprint in any process or session."""
        if self._fingerprint:
            return self._fingerprint
        digest = hashlib.sha256()
        for key in sorted(self.arrays):
            values = np.ascontiguousarray(self.arrays[key])
            digest.update(f"{key}:{values.dtype.str}:{values.shape};".encode())
            digest.update(memoryview(values).cast("B"))
        self._fingerprint = f"arrays sha256:{digest.hexdigest()[:32]} n={len(self)}"
        return self._fingerprint


def _field_of_feature(name: str, feature) -> specs.Field | None:
    """The Field for a tfds feature, or None for features jaxae cannot batch (variable shapes, nesting)."""
    import tensorflow_datasets as tfds

    if isinstance(feature, (tfds.features.FeaturesDict, tfds.features.Sequence)):
        return None  # Nested features (CelebA's landmarks and attributes): not a field of their own.
    shape = getattr(feature, "shape", None)
    if shape is None or None in tuple(shape):
        return None
    dtype = np.dtype(feature.np_dtype)
    stored = specs.stored_dtype(dtype)
    if isinstance(feature, tfds.features.ClassLabel):
        return specs.Field("label", (), stored, feature.num_classes)
    if name == "image" or isinstance(feature, tfds.features.Image):
        return specs.Field("image", shape, stored)
    if np.issubdtype(dtype, np.floating):
        return specs.Field("dense", shape, stored)
    if dtype == np.bool_:
        return specs.Field("mask", shape, stored)
    if np.issubdtype(dtype, np.integer):
        return specs.Field("ids", shape, stored)
    return None


class TfdsSource:
    """One split of a prepared tfds data set, read through `tfds.data_source` (no TensorFlow)."""

    def __init__(self, data_source, name: str, split: str, data_dir: str | None = None):
        self._source = data_source
        self.where = f"tfds data set {name!r} split {split!r}"
        self.origin = {"kind": "tfds", "name": name, "split": split, "data_dir": data_dir}
        info = data_source.dataset_info
        self._fingerprint = f"tfds {name} {info.version} split={split} n={len(data_source)}"
        self.metadata = dict(info.metadata or {})  # What a builder recorded beside the data (ratings: the ids).
        self.spec = {}
        for key, feature in info.features.items():
            field = _field_of_feature(key, feature)
            if field is not None:
                self.spec[key] = field
        # tfds' Tensor features carry no vocabulary; a builder records it as metadata 'vocab_sizes'.
        for key, size in self.metadata.get("vocab_sizes", {}).items():
            if key in self.spec and self.spec[key].kind == "ids":
                self.spec[key] = dataclasses.replace(self.spec[key], vocab_size=int(size))

    def __len__(self) -> int:
        return len(self._source)

    def read(self, indices, fields=None) -> dict[str, np.ndarray]:
        records = self._source.__getitems__([int(i) for i in indices])
        return {key: np.stack([np.asarray(record[key]) for record in records]).astype(self.spec[key].dtype, copy=False)
                for key in (fields or self.spec)}

    def fingerprint(self) -> str:
        return self._fingerprint


def default_data_dir() -> str:
    """tfds' own default: $TFDS_DATA_DIR, else ~/tensorflow_datasets."""
    return os.environ.get("TFDS_DATA_DIR", os.path.join(os.path.expanduser("~"), "tensorflow_datasets"))


def prepare_embedded(name: str, data_dir: str | None = None, data_config=None):
    """Writes an embedded data set's array_record files into `data_dir` unless they are there, and
    returns its builder (None for a name that is not embedded).

    In a multi-process run only process 0 calls this, before the others open the data set.
    data_config: the config's data section, for builders that take options (`builders.make_builder`).

    Raises:
      DataError: `data_dir` cannot be written (it is checked before tfds starts writing).
    """
    from jaxae.data import builders

    if name not in builders.EMBEDDED_BUILDERS:
        return None
    data_dir = data_dir or default_data_dir()
    if not os.path.isdir(os.path.join(data_dir, name)):  # Not prepared here yet: the folder must take it.
        _check_writable(data_dir, name)
    builder = builders.make_builder(name, data_dir, data_config)
    with builders.quiet_tfds():  # tfds warns that a version folder it looks into has no dataset_info.json yet.
        prepared = builder.is_prepared()
    if not prepared:
        _check_writable(data_dir, name)
        builders.prepare(builder)
    return builder


def _check_writable(data_dir: str, name: str) -> None:
    try:
        os.makedirs(data_dir, exist_ok=True)
        probe = os.path.join(data_dir, f".jaxae-write-test-{os.getpid()}")
        open(probe, "w").close()
        os.remove(probe)
    except OSError as error:
        raise DataError(f"the tfds data dir {data_dir!r} (data.tfds_data_dir or $TFDS_DATA_DIR) is not writable, "
                        f"so {name!r} cannot be prepared there: {error.strerror or error}") from None


def _unopened(name: str, data_dir: str, error: Exception) -> str:
    """Why `name` could not be opened from `data_dir`, in the words of what to do (tfds' own message
    for an unprepared set blames its file format)."""
    from jaxae.data import builders

    prepare = (f"prepare it once on a machine with network access: pip install 'jaxae[tensorflow]' && tfds build "
               f"{name} --file_format=array_record --data_dir={data_dir}")
    embedded = f"data.name={name!r} is not one of jaxae's own data sets ({sorted(builders.EMBEDDED_BUILDERS)})"
    if type(error).__name__ == "DatasetNotFoundError":
        return (f"{embedded} nor a data set tfds knows: check the name (tfds names are lower_case, e.g. 'cifar10'); "
                f"for a builder of your own, {prepare}")
    folder = os.path.join(data_dir, name.split(":")[0])
    found = [file for _, _, files in os.walk(folder) for file in files] if os.path.isdir(folder) else []
    if any(".tfrecord" in file for file in found) and not any(".array_record" in file for file in found):
        return (f"{embedded}, and {folder} holds it as TFRecord files, which jaxae reads only as array_record (no "
                f"TensorFlow needed): {prepare} (another data dir, or delete that folder first)")
    if not any(".array_record" in file for file in found):
        return f"{embedded} and is not prepared in data.tfds_data_dir={data_dir!r}: {prepare}"
    return f"{embedded} and could not be opened from data.tfds_data_dir={data_dir!r} ({type(error).__name__}): {prepare}"


def open_tfds(name: str, split: str, data_dir: str | None = None, data_config=None) -> TfdsSource:
    """Opens `split` of the tfds data set `name`, preparing the embedded ones on first use (with the
    options `data_config`, the config's data section, gives them).

    Raises:
      DataError: the data set is neither embedded nor prepared in `data_dir`, with how to prepare it.
    """
    import tensorflow_datasets as tfds  # Heavy: only when data is actually opened.

    from jaxae.data import builders

    data_dir = data_dir or default_data_dir()
    if name in builders.EMBEDDED_BUILDERS:
        builder = prepare_embedded(name, data_dir, data_config)  # One builder: a ratings source is read once.
        if builder.builder_config is not None:  # The config's name says which options made the data.
            name = f"{name}/{builder.builder_config.name}"
    else:
        try:
            with builders.quiet_tfds():
                builder = tfds.builder(name, data_dir=data_dir)
                if not builder.is_prepared() or "array_record" not in {
                        getattr(kind, "value", kind) for kind in builder.info.available_file_formats()}:
                    raise FileNotFoundError(name)  # _unopened says why, from the folder's files.
        except Exception as error:  # tfds raises several types: unknown name, not prepared, ...
            raise DataError(_unopened(name, data_dir, error)) from None
    try:
        with builders.quiet_tfds():
            source = builder.as_data_source(split=split)
    except (ValueError, KeyError, AssertionError):  # What tfds raises for an unknown split or a malformed slice.
        raise DataError(f"tfds data set {name!r} has no split {split!r}; it has {sorted(builder.info.splits)}, "
                        "and slices of them such as 'train[:90%]' or 'train[90%:]'") from None
    return TfdsSource(source, name, split, data_dir)
