"""A folder of image files as a data set (`data.name='image_folder'`): layouts, labels, splits,
shapes, bad files named in one line, content-keyed preparation, and a run of an image family on a
folder of photos, read back by `jaxae.encode`, as a user arrives with them."""

import os
import re

import numpy as np
import pytest
from PIL import Image

from jaxae.data import image_folder, sources
from jaxae.errors import ConfigError, DataError
from tests.helpers import tiny


def save(path, pixels, **options):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(np.asarray(pixels, np.uint8)).save(path, **options)


def colour(seed, height=12, width=10):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3))


def folder_config(path, tfds_dir, config="conv_vae_mnist", **data):
    config = tiny(config)
    config.data.name, config.data.path, config.data.tfds_data_dir = "image_folder", str(path), str(tfds_dir)
    for field, value in data.items():
        config.data[field] = value
    return config


def opened(config, split):
    return sources.open_tfds("image_folder", split, config.data.tfds_data_dir, config.data)


def test_class_folders_are_labels_in_sorted_order_and_a_drawn_split_keeps_each_class(tmp_path):
    for name, count in (("zebra", 10), ("ant", 20)):
        for i in range(count):
            save(tmp_path / "photos" / name / "deeper" / f"{i}.png", colour(i))
    (tmp_path / "photos" / "notes.txt").write_text("not an image")
    folder = image_folder.scan(str(tmp_path / "photos"), test_fraction=0.2, split_seed=3)
    assert folder.classes == ("ant", "zebra") and not folder.given_splits and folder.skipped == ("notes.txt",)
    for split, images in folder.splits.items():
        classes = [image.path.split("/")[0] for image in images]
        assert [folder.classes[label] for label in folder.labels[split]] == classes
    test = folder.labels["test"]
    assert (np.sum(test == 0), np.sum(test == 1)) == (4, 2)  # 20 % of each class.
    again = image_folder.scan(str(tmp_path / "photos"), test_fraction=0.2, split_seed=3)
    other = image_folder.scan(str(tmp_path / "photos"), test_fraction=0.2, split_seed=4)
    paths = lambda f: [image.path for image in f.splits["test"]]  # noqa: E731
    assert paths(again) == paths(folder) and paths(other) != paths(folder)


@pytest.mark.parametrize("layout, message", [
    ({"a.png": 1, "cats/b.png": 1}, "beside class folders"),
    ({"train/cats/a.png": 1, "test/dogs/b.png": 1}, "test holds classes that train/ lacks: dogs"),
    ({"train/cats/a.png": 1, "test/b.png": 1}, "train/ has class folders and test/ has not"),
    ({"train/a.png": 1, "test/b.png": 1, "extra/c.png": 1}, "beside ['extra']"),
    ({"a.png": 1, "b.png": 1, "broken.png": b"not a png", "empty.jpg": b""}, "2 files in"),
    ({"a.png": 1, "b.png": 1}, "leaves the test part"),
])
def test_a_folder_of_the_wrong_layout_or_with_unreadable_files_is_refused_in_one_line(tmp_path, layout, message):
    for name, content in layout.items():
        if isinstance(content, bytes):
            (tmp_path / name).write_bytes(content)
        else:
            save(tmp_path / name, colour(len(name)))
    with pytest.raises(DataError, match=re.escape(message)) as error:
        image_folder.scan(str(tmp_path), test_fraction=0.1, split_seed=0)
    assert "\n" not in str(error.value)
    if "files in" in message:
        assert "broken.png" in str(error.value) and "empty.jpg" in str(error.value)


def test_shapes_follow_the_images_or_data_image_size_and_differing_sizes_are_named(tmp_path):
    for i in range(6):
        save(tmp_path / "train" / f"{i}.png", colour(i, 12, 10))
    save(tmp_path / "test" / "odd.jpg", colour(9, 30, 40))
    folder = image_folder.scan(str(tmp_path), test_fraction=0.1, split_seed=0)
    with pytest.raises(DataError, match=r"6 are 12x10, 1 are not \(test/odd.jpg\); set data.image_size"):
        folder.shape(0, 0)
    assert folder.shape(8, 0) == (8, 8, 3) and folder.shape(8, 1) == (8, 8, 1)
    flat = np.full((30, 40, 3), (200, 30, 90))
    save(tmp_path / "test" / "odd.jpg", flat, quality=100)
    resized = image_folder.decode(str(tmp_path), image_folder.ImageFile("test/odd.jpg", 30, 40, "RGB"), (8, 8, 3))
    assert resized.shape == (8, 8, 3) and np.abs(resized.astype(int) - (200, 30, 90)).max() <= 3


def test_grey_colour_16_bit_and_rotated_photos_decode_as_a_viewer_shows_them(tmp_path):
    grey = np.random.default_rng(0).integers(0, 256, (6, 4))
    save(tmp_path / "grey.png", grey)
    deep = np.random.default_rng(1).integers(0, 65536, (6, 4)).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / "deep.png")  # 16-bit grey.
    photo = colour(2, 4, 6)
    exif = Image.Exif()
    exif[0x0112] = 6  # Shot sideways: a viewer turns it 90 degrees clockwise.
    save(tmp_path / "sideways.png", photo, exif=exif)
    headers = {h.path: h for h in image_folder._read_headers(str(tmp_path), ["grey.png", "deep.png", "sideways.png"])[0]}
    assert (headers["sideways.png"].height, headers["sideways.png"].width) == (6, 4)
    decode = lambda name, shape: image_folder.decode(str(tmp_path), headers[name], shape)  # noqa: E731
    np.testing.assert_array_equal(decode("grey.png", (6, 4, 1))[..., 0], grey)
    np.testing.assert_array_equal(decode("grey.png", (6, 4, 3)), np.repeat(grey[..., None], 3, -1))
    np.testing.assert_array_equal(decode("deep.png", (6, 4, 1))[..., 0], np.round(deep * (255 / 65535)))
    np.testing.assert_array_equal(decode("sideways.png", (6, 4, 3)), np.rot90(photo, k=-1))


def test_an_edited_file_prepares_a_new_version_and_the_config_fields_are_checked(tmp_path):
    for i in range(10):
        save(tmp_path / "photos" / f"{i}.png", colour(i))
    config = folder_config(tmp_path / "photos", tmp_path / "tfds")
    before = opened(config, "train")
    assert before.spec["image"].shape == (12, 10, 3) and "label" not in before.spec and len(before) == 9
    save(tmp_path / "photos" / "3.png", colour(33))
    after = opened(config, "train")
    assert after.fingerprint() != before.fingerprint()
    assert len(os.listdir(tmp_path / "tfds" / "image_folder")) == 2
    from jaxae.config.validation import validate_config

    config.data.path = ""
    with pytest.raises(ConfigError, match="needs data.path"):
        validate_config(config)
    for split in ("train", "test"):
        save(tmp_path / "given" / split / f"{split}.png", colour(1))
    with pytest.raises(DataError, match="holds train/ and test/, so data.test_fraction and data.split_seed draw nothing"):
        opened(folder_config(tmp_path / "given", tmp_path / "tfds", test_fraction=0.2), "train")
    plain = tiny("conv_vae_mnist")
    plain.data.image_size = 64
    with pytest.raises(ConfigError, match="data.image_size=64 is read only with data.name='image_folder'"):
        validate_config(plain)


def test_a_conv_vae_trains_on_colour_photos_of_mixed_sizes_and_encode_reads_them_back(tmp_path):
    from jaxae.engine import loop
    from jaxae.tools import encode

    rng = np.random.default_rng(0)
    for split, count in (("train", 24), ("test", 8)):
        for i in range(count):
            kind = ("cats", "dogs")[i % 2]
            size = (12, 10) if i % 3 else (20, 16)
            suffix = ".jpg" if i % 4 == 0 else ".png"
            save(tmp_path / "photos" / split / kind / f"{i}{suffix}", rng.integers(0, 256, (*size, 3)))
    config = folder_config(tmp_path / "photos", tmp_path / "tfds", image_size=8, binarize="none")
    config.batch_size = config.eval_batch_size = 8
    config.parallel.num_devices = 1  # What is tested is the data (an unlabelled set's clustering: test_tfds_sets.py).
    result = loop.run(config, str(tmp_path / "run"))
    assert result.step == config.num_steps and np.isfinite(result.eval_metrics["eval/neg_elbo"])
    out = tmp_path / "codes.npz"
    encode.main(["--workdir", str(tmp_path / "run"), "--out", str(out)])
    saved = np.load(out)
    assert saved["codes"].shape == (8, config.model.latent_dim)
    np.testing.assert_array_equal(saved["labels"], [0] * 4 + [1] * 4)  # Files in path order: cats (0), then dogs.
    save(tmp_path / "photos" / "test" / "cats" / "0.jpg", rng.integers(0, 256, (12, 10, 3)))  # An edited photo.
    assert encode.main(["--workdir", str(tmp_path / "run"), "--out", str(tmp_path / "again.npz")]) == 2
    assert not (tmp_path / "again.npz").exists()
