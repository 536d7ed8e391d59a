"""The data a finished run was trained and evaluated on, for the tools that read a run
(`jaxae.encode`, `jaxae.plot`): opened from the tfds data set the run recorded, or, for a run
trained on the caller's arrays (which no run stores), asked for as a file. Never another data
set's examples or labels."""

from __future__ import annotations

import argparse
import os

import numpy as np

from jaxae.errors import JaxaeError
from jaxae.runs import run_record


def arguments(prog: str, description: str, out: str, *, rows: bool = False) -> argparse.ArgumentParser:
    """A tool's parser with the options every tool reading a run takes: --workdir, --out (described
    by `out`), --split or --images (or, with `rows`, --rows), --step and --batch-size."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--workdir", required=True, help="the run's folder (it holds checkpoints/)")
    parser.add_argument("--out", required=True, help=out)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--split", default="", help="a split of the run's tfds data set (default: its eval split)")
    source.add_argument("--images", default="", help="a .npy file of images [n, H, W(, C)], uint8 or in [0, 1]")
    if rows:
        source.add_argument("--rows", default="", help="a CSV file of raw table rows, for a tabular run that "
                                                       "recorded its column transform (a CSV's, the embedded table's)")
    parser.add_argument("--step", type=int, default=None,
                        help="a checkpoint's step (default: the best state early stopping kept, else the newest intact)")
    parser.add_argument("--batch-size", type=_positive, default=None,
                        help="examples per batch on the devices, which bounds their memory (default: the run's eval batch)")
    return parser


def _positive(text: str) -> int:
    """An option's positive integer (argparse names the option in its one-line error)."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return int(text)


def recorded_split(model, split: str = "", *, workdir: str = ""):
    """The source of `split` of the data set `model` (from `jaxae.load`) trained on; its eval
    split's source when `split` is ''.

    Raises:
      JaxaeError: the run trained or evaluated on arrays (`--images` is needed), or the data set
        cannot be opened, or is not the one the run recorded (a user's files changed), or its
        training split is not the data the run trained on.
    """
    from jaxae.data import builders, sources

    origin = run_record.recorded_origin(model.record, "origin" if split else "eval_origin")
    if origin["kind"] != "tfds":
        what = "trained" if split else "was evaluated"
        images = tuple(model.input_fields) == ("image",)
        how = "pass them as --images FILE.npy" if images else "encode them in Python: jaxae.load(workdir).encode(...)"
        raise JaxaeError(f"the run in {workdir or 'this workdir'!r} {what} on arrays "
                         f"({origin.get('name', 'of its caller')}), which a run does not store: {how}")
    name, split = origin["name"], split or origin["split"]
    data_dir = origin.get("data_dir")
    if data_dir and not os.path.isdir(data_dir):  # Moved, or another machine: tfds' default (the fingerprint is checked).
        data_dir = None
    data = model.config.data
    base = name.split("/")[0]
    if base in builders.EMBEDDED_BUILDERS and base == data.name:  # Its builder's options come from the config.
        source = sources.open_tfds(base, split, data_dir, data)
    else:
        source = sources.open_tfds(name, split, data_dir)
    if source.origin["name"] != name:  # A user's files prepared anew: changed since the run read them.
        raise JaxaeError(f"the run read {name!r}, but its data.path gives {source.origin['name']!r} now: the files "
                         "changed since (their content hash differs); restore them, or pass the rows or images to encode")
    trained = run_record.recorded_origin(model.record, "origin")
    carved = trained.get("carved") if split == trained.get("split") else None
    if carved:  # Early stopping kept a validation part out of the training split: the part trained on.
        from jaxae.data import splits

        source = splits.carve(source, carved["fraction"], carved["seed"])[0]
    if split == trained.get("split") and source.fingerprint() != model.record["data"]["fingerprint"]:
        raise JaxaeError(f"{source.where} is not the data the run trained on: it is {source.fingerprint()!r}, "
                         f"the run recorded {model.record['data']['fingerprint']!r}")
    return source


def read_rows(path: str, model, flag: str = "--rows"):
    """A DataFrame of the CSV file at `path`, for a tabular `model` that takes raw rows; JaxaeError otherwise."""
    transform = getattr(model, "transform", None)
    if transform is None:
        raise JaxaeError(f"{flag} is for tabular runs that recorded their column transform; this run "
                         f"({model.config.trainer}) takes {'--images' if model.input_fields == ('image',) else '--split'}")
    if not os.path.isfile(path):
        raise JaxaeError(f"{flag}={path!r} is not a file")
    from jaxae.data.csv_table import read_frame

    delimiter = model.record["data"]["input_transform"].get("csv", {}).get("delimiter", ",")
    frame = read_frame(path, delimiter, f"{flag}={path!r}")
    return frame if transform.frame else frame.to_numpy()


def read_images(path: str, flag: str = "--images") -> np.ndarray:
    """Images [n, H, W(, C)] from a .npy file, without pickle; JaxaeError naming `flag` otherwise."""
    if not path.endswith(".npy") or not os.path.isfile(path):
        raise JaxaeError(f"{flag}={path!r} is not a .npy file")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as error:  # e.g. an array of Python objects, which would need pickle.
        raise JaxaeError(f"{flag}={path!r} cannot be read without pickle: {error}") from None
