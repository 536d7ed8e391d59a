"""Encode a split or an array with a trained run, from the command line:

    python -m jaxae.encode --workdir runs/vae_mnist --out codes.npz             # the run's eval split
    python -m jaxae.encode --workdir runs/vae_mnist --split train --out train.npz
    python -m jaxae.encode --workdir runs/ae --images digits.npy --out codes.npz  # [n, H, W(, C)] images
    python -m jaxae.encode --workdir runs/table --rows new.csv --out scores.npz   # a tabular run's raw rows

The split is read from the tfds data set the run recorded (its name, split and data dir); a run
trained on arrays of the caller's has none, and asks for --images. The .npz holds 'codes' [n,
latent], 'scores' [n] where the run's model offers them (each example's reconstruction loss, the
anomaly score of `jaxae.AnomalyDetector`; a VAE's negative ELBO), 'clusters' [n] for clustering
runs or 'classes' [n] for classifiers, and, when the split has them, 'labels' [n]. An existing
--out is not overwritten, and the file appears whole or not at all.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from jaxae.errors import JaxaeError
from jaxae.tools import run_data


def parse(argv):
    parser = run_data.arguments("python -m jaxae.encode", __doc__.split("\n\n")[0],
                                "the .npz file to write (must not exist)", rows=True)
    return parser.parse_args(argv)


def inputs_of(model, args) -> tuple[list[np.ndarray], np.ndarray | None]:
    """The arrays the model's encode takes, read from --images or the run's recorded data, and the split's labels."""
    from jaxae.data import host
    from jaxae.tools.run_data import read_images, recorded_split

    fields = list(model.input_fields)
    if args.images:
        if fields != ["image"]:
            raise JaxaeError(f"--images is for image models; this run takes {fields}: use --split")
        return [read_images(args.images)], None
    split = recorded_split(model, args.split, workdir=args.workdir)
    present = [field for field in fields if field in split.spec]
    arrays = host.read_all(split, present + (["label"] if "label" in split.spec else []))
    return [arrays.get(field) for field in fields], arrays.get("label")


def results_of(model, args) -> dict[str, np.ndarray]:
    """{'codes', and 'scores', 'clusters' or 'classes', 'labels' where there are some} of the data `args` name."""
    if args.rows:  # A user's raw rows: the run's column transform applies them.
        rows = run_data.read_rows(args.rows, model)
        return {"codes": model.encode(rows), "scores": model.scores(rows)}
    arrays, labels = inputs_of(model, args)
    results = {"codes": model.encode_fields(*arrays)}
    if "scores" in model.offers:  # Families with a reconstruction loss.
        results["scores"] = model.scores_fields(*arrays)
    if model.predicts and "predict" in model.offers:  # A clustering's clusters, a classifier's classes.
        results[model.predicts] = model.predict_fields(*arrays)
    if labels is not None:
        results["labels"] = labels
    return results


def main(argv=None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    out = os.path.abspath(os.path.expanduser(args.out))
    try:
        if os.path.exists(out):
            raise JaxaeError(f"--out={out} exists; choose a new file (nothing was written)")
        if not os.path.isdir(os.path.dirname(out)):
            raise JaxaeError(f"--out={out}: its folder does not exist")
        from jaxae.engine.load import load

        model = load(args.workdir, step=args.step, batch_size=args.batch_size)
        if "encode" not in model.offers:
            raise JaxaeError(f"the run in {args.workdir!r} ({model.config.trainer}) has no encoder to encode with")
        results = results_of(model, args)
        partial = out + ".partial"
        with open(partial, "wb") as file:
            np.savez(file, **results)
        os.replace(partial, out)
    except (JaxaeError, OSError) as error:
        print(f"jaxae.encode: error: {error}", file=sys.stderr)
        return 2
    print(f"{', '.join(results)} of {len(results['codes'])} examples (step {model.step}): {out}")
    return 0
