"""tfds' own data sets as a user prepares them once (`tfds build NAME --file_format=array_record`):
tiny stand-ins of `mnist`, `fashion_mnist`, `cifar10` and `celeb_a` with tfds' exact features,
encodings and file layout (tests/data/make_tfds_sets.py wrote them with TensorFlow), read without
TensorFlow and trained on through `data.name`: extra features ignored, colour and size as the data
has them, an unlabelled set clustered with its label-free measures."""

import os
import shutil

import numpy as np
import pytest

from jaxae.data import sources
from jaxae.engine import loop
from helpers import tiny

SHIPPED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "tfds")

# data set: (the config trained on it, fields set, the image shape it must train on)
CASES = {
    "mnist": ("vae_mnist", {}, (28, 28, 1)),
    "fashion_mnist": ("conv_vae_mnist", {"data.binarize": "none"}, (28, 28, 1)),
    "cifar10": ("conv_vae_mnist", {"data.binarize": "none"}, (32, 32, 3)),
    # Adam: the clustering configs' SGD pretraining rate, per pixel, diverged on 218x178x3 images here.
    "celeb_a": ("ae_kmeans_mnist", {"data.binarize": "none", "cluster.n_clusters": 4, "optimizer.name": "adam",
                                    "optimizer.per_pixel": False, "optimizer.learning_rate": 1e-3, "data.augment_shift": 0},
                (218, 178, 3)),
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A copy of the shipped sets (tfds may leave files beside the data it reads)."""
    return shutil.copytree(SHIPPED, tmp_path_factory.mktemp("tfds") / "tfds")


@pytest.mark.parametrize("name", CASES)
def test_a_tiny_config_trains_on_a_tfds_set_as_tfds_prepares_it(name, data_dir, tmp_path):
    config_name, fields, shape = CASES[name]
    config = tiny(config_name)
    config.data.name, config.data.tfds_data_dir = name, str(data_dir)
    config.batch_size, config.eval_batch_size, config.eval_every, config.num_image_examples = 8, 8, 0, 0
    config.parallel.num_devices = 1  # What is tested is the data; 8 devices' gradient sums of CelebA's 116k pixels took 10 s.
    config.num_steps, config.log_every, config.checkpoint_every = 10, 5, 10
    for field, value in fields.items():
        section, leaf = field.split(".")
        config[section][leaf] = value
    train = sources.open_tfds(name, "train", str(data_dir))
    assert train.spec["image"].shape == shape and set(train.spec) <= {"image", "label"}  # id, landmarks... left out.
    assert train.read(np.arange(2))["image"].dtype == np.uint8
    result = loop.run(config, str(tmp_path / "run"))
    assert result.step == 10  # (A clustering's: its pretraining, then K-means.)
    assert all(np.isfinite(value) for value in result.eval_metrics.values())
    if name == "celeb_a":  # No label: a clustering reports what needs none.
        assert "eval/cluster_acc" not in result.eval_metrics and -1 <= result.eval_metrics["eval/silhouette"] <= 1
