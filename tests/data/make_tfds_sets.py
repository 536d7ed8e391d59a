"""Writes tests/data/tfds/: tiny stand-ins for tfds' `mnist`, `fashion_mnist`, `cifar10` and `celeb_a`,
with exactly the features, encodings, versions and array_record file layout tfds' own builders
write (PNG-encoded `Image` features, a `ClassLabel`, CIFAR-10's string `id`, CelebA's JPEG images,
landmarks, 40 boolean attributes and an identity), but synthetic pictures: a few kilobytes that the tests read
as a user's prepared data sets are read (`data.name=cifar10`, no TensorFlow).

Encoding tfds' `Image` feature needs TensorFlow; reading it does not. Run once, where TensorFlow
is installed, from the repository's root:

    python3 -m venv /tmp/tfvenv && /tmp/tfvenv/bin/pip install tensorflow-cpu 'tensorflow-datasets>=4.9.9,<5' array-record
    /tmp/tfvenv/bin/python tests/data/make_tfds_sets.py

Each builder is tfds' own class with its downloads replaced by generated examples, so `_info` (the
features, the version, the supervised keys) is tfds' own.
"""

import os
import shutil

import numpy as np
import tensorflow_datasets as tfds

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tfds")
SIZES = {"train": 16, "test": 8}


def digit(rng, label: int) -> np.ndarray:
    """A 28x28x1 black-and-white stroke picture (as MNIST's digits are nearly binary)."""
    image = np.zeros((28, 28, 1), np.uint8)
    row = 4 + 2 * label
    image[row:row + 3, 4 + rng.integers(0, 4):24] = 255
    image[4:24, 6 + 2 * label:9 + 2 * label] = 255
    return image


def smooth(rng, shape) -> np.ndarray:
    """A smooth colour gradient (small once PNG- or JPEG-encoded)."""
    height, width, channels = shape
    y, x = np.mgrid[0:height, 0:width]
    colours = rng.integers(0, 256, (channels, 3))
    planes = [(c[0] * y / height + c[1] * x / width + c[2]) % 256 for c in colours]
    return np.stack(planes, -1).astype(np.uint8)


def examples(split: str, make):
    rng = np.random.default_rng(["train", "test", "validation"].index(split))
    for index in range(SIZES.get(split, 8)):
        yield index, make(rng, index)


def with_examples(builder_class, name: str, make, splits=("train", "test")):
    """tfds' builder class with its downloads replaced by `make(rng, index) -> example`."""

    class Fake(builder_class, skip_registration=True):
        def _split_generators(self, dl_manager):
            del dl_manager
            return {split: examples(split, make) for split in splits}

        def _generate_examples(self, *args, **kwargs):  # Not called: _split_generators yields the examples.
            raise NotImplementedError

        @classmethod
        def _get_pkg_dir_path(cls):  # tfds reads a builder's tags and citations beside its module: tfds' own.
            return builder_class._get_pkg_dir_path()

    Fake.name = name
    return Fake


def main():
    from tensorflow_datasets.datasets.celeb_a import celeb_a_dataset_builder as celeb_a
    from tensorflow_datasets.image_classification import cifar, mnist

    shutil.rmtree(OUT, ignore_errors=True)
    labelled = lambda image: lambda rng, i: {"image": image(rng, i % 10), "label": i % 10}  # noqa: E731
    builders = [
        with_examples(mnist.MNIST, "mnist", labelled(digit)),
        with_examples(mnist.FashionMNIST, "fashion_mnist", labelled(lambda rng, _: smooth(rng, (28, 28, 1)))),
        with_examples(cifar.Cifar10, "cifar10", lambda rng, i: {"id": f"train_{i:05d}",
                                                                "image": smooth(rng, (32, 32, 3)), "label": i % 10}),
        with_examples(celeb_a.Builder, "celeb_a", lambda rng, i: {
            "image": smooth(rng, (218, 178, 3)),
            "landmarks": {name: int(rng.integers(0, 178)) for name in celeb_a.LANDMARK_HEADINGS},
            "attributes": {name: bool(rng.integers(0, 2)) for name in celeb_a.ATTR_HEADINGS},
            "identity": {name: int(rng.integers(1, 10178)) for name in celeb_a.IDENTITY_HEADINGS}},
            splits=("train", "validation", "test")),
    ]
    for builder_class in builders:
        builder = builder_class(data_dir=OUT, file_format="array_record")
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(try_download_gcs=False))
        print(builder.name, builder.info.splits)
    shutil.rmtree(os.path.join(OUT, "downloads"), ignore_errors=True)


if __name__ == "__main__":
    main()
