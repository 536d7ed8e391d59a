"""A folder of image files as a data set (`data.name='image_folder'`, `data.path=DIR`): its layout,
its splits and labels, one shape for every image, and the content hash that names what is
prepared from it. The tfds builder that writes it as array_record is `option_builders.ImageFolder`.

Layouts:
  DIR/train/..., DIR/test/...   the two splits as given (nothing else may sit beside them)
  DIR/...                       one folder: a seeded `test_fraction` of it (of each class) is 'test'
Inside a split (or DIR) either the images themselves (unlabelled), or one folder per class holding
images at any depth; the class folders' names, sorted, are labels 0, 1, ... (as tfds' ImageFolder,
Keras' `image_dataset_from_directory` and torchvision's `ImageFolder` read them).

Files are read by extension (`EXTENSIONS`, any case) and decoded with Pillow; hidden files are
passed over, other files too but counted, so a user hears of them. Every image is turned upright by
its EXIF orientation (as viewers show photos), then made grey ('L') or colour ('RGB', alpha
dropped) and, where `image_size` asks, resized to image_size x image_size (bilinear, antialiased
when shrinking; the aspect ratio is not kept). Without `image_size` every image must have one size.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import os

import numpy as np

from jaxae.data import splits
from jaxae.data.files import tag_of
from jaxae.errors import DataError

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
SPLITS = ("train", "test")
_GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N")
_READABLE_MODES = _GREY_MODES + ("P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV")
_ROTATED = (5, 6, 7, 8)  # EXIF orientations that swap width and height.
_NAMED = 3  # Files a message names before '...'.


@dataclasses.dataclass(frozen=True)
class ImageFile:
    """One image file as its header describes it: the path under the folder, its upright size, its mode."""

    path: str
    height: int
    width: int
    mode: str


@dataclasses.dataclass(frozen=True)
class Folder:
    """A scanned image folder.

    Attributes:
      root: the folder's absolute path.
      classes: the class folders' names, sorted (empty: unlabelled).
      splits: {'train' | 'test': [ImageFile, ...]} in a fixed order.
      labels: {'train' | 'test': [n] int64 positions in `classes`} (empty when unlabelled).
      given_splits: whether the folder held train/ and test/ (else the split was drawn).
      skipped: files under the folder that are not images by their extension.
      content: 12 hex digits of the SHA-256 over every image's path and bytes.
    """

    root: str
    classes: tuple[str, ...]
    splits: dict
    labels: dict
    given_splits: bool
    skipped: tuple[str, ...]
    content: str

    def tag(self) -> str:
        """A short name of the folder's content: its base name (letters, digits, '_' and '-') and hash."""
        return tag_of(self.root, self.content, "folder")

    def shape(self, image_size: int, channels: int) -> tuple[int, int, int]:
        """(height, width, channels) of every prepared image: `image_size` squared if > 0, else the one
        size all images share; `channels` if > 0, else 1 when every image is grey and 3 otherwise.

        Raises:
          DataError: without `image_size`, the images differ in size (the rarer sizes' files named).
        """
        images = [image for split in self.splits.values() for image in split]
        if channels == 0:
            channels = 1 if all(image.mode in _GREY_MODES for image in images) else 3
        if image_size:
            return image_size, image_size, channels
        sizes = {}
        for image in images:
            sizes.setdefault((image.height, image.width), []).append(image.path)
        if len(sizes) > 1:
            ranked = sorted(sizes.items(), key=lambda item: -len(item[1]))
            (height, width), common = ranked[0]
            others = [path for _, paths in ranked[1:] for path in paths]
            raise DataError(f"the images in {self.root} differ in size: {len(common)} are {height}x{width}, "
                            f"{len(others)} are not ({_some(others)}); set data.image_size to resize them all")
        (height, width), = sizes
        return height, width, channels


def scan(path: str, *, test_fraction: float, split_seed: int) -> Folder:
    """The folder at `path` with its splits, labels, shapes and content hash (read once a process
    while its files are unchanged).

    Raises:
      DataError: no such folder, a layout of neither kind, an empty split or class, files Pillow
        cannot read (named), or a split drawn that leaves a split empty.
    """
    root = os.path.abspath(os.path.expanduser(path))
    if not os.path.isdir(root):
        raise DataError(f"data.path={path!r} is not a folder")
    files, skipped = _listing(root)
    stats = tuple((name, *_stat(root, name)) for name in files)
    return _scanned(root, stats, skipped, float(test_fraction), int(split_seed))


@functools.lru_cache(maxsize=8)
def _scanned(root: str, stats: tuple, skipped: tuple, test_fraction: float, split_seed: int) -> Folder:
    """`scan`'s work, cached by the files' names, sizes and modification times."""
    headers, content = _read_headers(root, [name for name, *_ in stats])
    top = {name.split("/")[0] for name, *_ in stats}
    given = {"train", "test"} <= top and all("/" in name for name, *_ in stats)
    if given:
        if top != {"train", "test"}:
            raise DataError(f"{root} holds train/ and test/ beside {sorted(top - {'train', 'test'})}: keep only "
                            "the two splits there, or no train/ and test/ to have a split drawn")
        parts = {split: [h for h in headers if h.path.startswith(split + "/")] for split in SPLITS}
        train, test = (set(_classes(root, split, parts[split])) for split in SPLITS)
        if bool(train) != bool(test):
            raise DataError(f"{root}: {'train' if train else 'test'}/ has class folders and "
                            f"{'test' if train else 'train'}/ has not; label both splits or neither")
        if test - train:
            raise DataError(f"{root}/test holds classes that train/ lacks: {_some(sorted(test - train))}")
        classes = sorted(train)
    else:
        everything = _classes(root, "", headers)
        classes = sorted(set(everything))
        parts = _drawn(root, headers, everything, test_fraction, split_seed)
    labels = {}
    if classes:
        for split, images in parts.items():
            prefix = len(split) + 1 if given else 0
            labels[split] = np.array([classes.index(image.path[prefix:].split("/")[0]) for image in images], np.int64)
    return Folder(root, tuple(classes), parts, labels, given, skipped, content)


def _listing(root: str) -> tuple[list[str], tuple[str, ...]]:
    """The image files under `root` ('/'-separated paths, sorted) and the other, non-hidden files."""
    images, others = [], []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        for name in sorted(names):
            if name.startswith("."):
                continue
            relative = os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/")
            (images if name.lower().endswith(EXTENSIONS) else others).append(relative)
    if not images:
        raise DataError(f"data.path={root!r} holds no image files ({', '.join(EXTENSIONS)})")
    return images, tuple(others)


def _stat(root: str, name: str) -> tuple[int, int]:
    status = os.stat(os.path.join(root, name))
    return status.st_size, status.st_mtime_ns


def _read_headers(root: str, names: list[str]) -> tuple[list[ImageFile], str]:
    """Each file's header (its bytes hashed on the way); DataError naming the files Pillow cannot read."""
    from PIL import Image, UnidentifiedImageError

    digest, headers, unreadable = hashlib.sha256(), [], []
    for name in names:
        try:
            with open(os.path.join(root, name), "rb") as handle:
                data = handle.read()
            digest.update(f"{name}:{len(data)};".encode())
            digest.update(data)
            with Image.open(io.BytesIO(data)) as image:
                if image.mode not in _READABLE_MODES:
                    raise ValueError(f"mode {image.mode}")
                width, height = image.size
                if image.getexif().get(0x0112) in _ROTATED:
                    width, height = height, width
                headers.append(ImageFile(name, height, width, image.mode))
        except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError) as error:
            unreadable.append(f"{name} ({_reason(error)})")
    if unreadable:
        raise DataError(f"{len(unreadable)} files in {root} cannot be read as images: {_some(unreadable)}")
    return headers, digest.hexdigest()[:12]


def _classes(root: str, split: str, images: list[ImageFile]) -> list[str]:
    """Each image's class folder (empty when the split holds its images directly); DataError for a mix."""
    prefix = len(split) + 1 if split else 0
    parts = [image.path[prefix:].split("/") for image in images]
    direct = [image.path for image, part in zip(images, parts) if len(part) == 1]
    if not images:
        raise DataError(f"{os.path.join(root, split)} holds no image files")
    if direct and len(direct) < len(images):
        raise DataError(f"{os.path.join(root, split)} holds images ({_some(direct)}) beside class folders: "
                        "put every image in its class's folder, or none in folders for unlabelled data")
    return [] if direct else [part[0] for part in parts]


def _drawn(root: str, headers: list[ImageFile], classes: list[str], test_fraction: float,
           split_seed: int) -> dict[str, list[ImageFile]]:
    """{'train', 'test'}: round(test_fraction x n) of each class (of all, unlabelled) drawn by `split_seed`."""
    test = splits.drawn_test(classes or [""] * len(headers), test_fraction, split_seed, where=root)
    return {"train": [h for h, t in zip(headers, test) if not t], "test": [h for h, t in zip(headers, test) if t]}


def decode(root: str, image: ImageFile, shape: tuple[int, int, int]) -> np.ndarray:
    """The image file as uint8 [height, width, channels] of `shape`: upright, grey or RGB, resized.

    Raises:
      DataError: the file cannot be decoded (a truncated JPEG passes the header read).
    """
    from PIL import Image, ImageOps

    height, width, channels = shape
    try:
        with Image.open(os.path.join(root, image.path)) as opened:
            picture = ImageOps.exif_transpose(opened)
            if picture.mode.startswith("I"):  # 16-bit grey: scaled to 8 bits (Pillow's convert would clip).
                values = np.asarray(picture, np.float64) * (255.0 / 65535.0)
                picture = Image.fromarray(np.clip(np.round(values), 0, 255).astype(np.uint8))
            picture = picture.convert("L" if channels == 1 else "RGB")
            if picture.size != (width, height):
                picture = picture.resize((width, height), Image.Resampling.BILINEAR)
            pixels = np.asarray(picture, np.uint8)
    except (OSError, ValueError) as error:
        raise DataError(f"cannot decode image {os.path.join(root, image.path)} ({_reason(error)})") from None
    return pixels.reshape(height, width, channels)


def _reason(error: Exception) -> str:
    return str(error).split("\n")[0][:80] or type(error).__name__


def _some(items) -> str:
    """The first few of `items`, comma-separated, with how many more."""
    items = list(items)
    more = f", ... ({len(items) - _NAMED} more)" if len(items) > _NAMED else ""
    return ", ".join(items[:_NAMED]) + more
