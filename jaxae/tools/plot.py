"""Pictures of a trained autoencoder's code space, from the command line:

    python -m jaxae.plot --workdir runs/vae_mnist --out runs/vae_mnist/plots
    python -m jaxae.plot --workdir runs/ae --images digits.npy --out plots   # a run trained on arrays

writes into --out (a new folder): `codes.png`, the codes of the run's eval split (or --split, or
--images) mapped to 2-D (as they are when 2-D, else by PCA, or --method umap) and coloured by label
where the split has labels; `interpolations.png`, decoded straight lines between the codes of
--pairs pairs of those images (not for an adversarial autoencoder with clusters); and for a VAE
`traversals.png`, each of the first 10 code dimensions moved over +-3 around one image's code. The
split is read from the tfds data set the run recorded; a run trained on arrays of the caller's
asks for --images. The model is the newest intact checkpoint's, or --step's. The folder appears
whole or not at all.
"""

from __future__ import annotations

import os
import shutil
import sys

import numpy as np

from jaxae.errors import JaxaeError
from jaxae.tools import run_data

METHODS = ("pca", "umap")


def to_plane(codes: np.ndarray, method: str, seed: int = 0) -> np.ndarray:
    """codes [n, d] -> [n, 2]: themselves when d == 2, else PCA's first two components or UMAP."""
    if codes.shape[1] == 2:
        return codes
    if method == "umap":
        import umap

        # n_jobs=1: with a random_state umap-learn runs one thread anyway, and says so in a warning.
        return umap.UMAP(n_components=2, random_state=seed, n_jobs=1).fit_transform(codes)
    from sklearn.decomposition import PCA

    return PCA(2, random_state=seed).fit_transform(codes)


def parse(argv):
    parser = run_data.arguments("python -m jaxae.plot", __doc__.split("\n\n")[0], "a new folder for the PNG files")
    parser.add_argument("--method", default="pca", choices=METHODS, help="how codes wider than 2 are mapped to 2-D")
    parser.add_argument("--pairs", type=int, default=8, help="interpolation rows (at least 1)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    out = os.path.abspath(os.path.expanduser(args.out))
    partial = out + ".partial"
    try:
        if os.path.exists(out):
            raise JaxaeError(f"--out={out} exists; choose a new folder (nothing was written)")
        if args.pairs < 1:
            raise JaxaeError(f"--pairs={args.pairs} must be at least 1")
        import jax.numpy as jnp

        from jaxae.pictures import latent_pictures, viz
        from jaxae.data import host
        from jaxae.engine.load import load
        from jaxae.tools.run_data import read_images, recorded_split

        model = load(args.workdir, step=args.step, batch_size=args.batch_size)
        if "encode" not in model.offers or model.input_fields != ("image",):
            raise JaxaeError(f"the run in {args.workdir!r} ({model.config.trainer}) is not an image autoencoder")
        if args.images:
            arrays = {"image": read_images(args.images)}
        else:
            split = recorded_split(model, args.split, workdir=args.workdir)
            arrays = host.read_all(split, ["image"] + (["label"] if "label" in split.spec else []))
        codes = model.encode(arrays["image"])
        if len(codes) < 2 * args.pairs:
            raise JaxaeError(f"--pairs={args.pairs} needs {2 * args.pairs} images; there are {len(codes)}")
        shutil.rmtree(partial, ignore_errors=True)  # Left by an interrupted run of this command.
        os.makedirs(partial)
        names = ["codes.png"]
        viz.scatter_png(os.path.join(partial, names[0]), to_plane(codes, args.method), arrays.get("label"))
        decode = lambda z: model.decode(np.asarray(z))  # noqa: E731
        grids = {}
        if "decode" in model.offers:  # Codes alone decode (a clustered AAE's decoder also takes a cluster).
            grids["interpolations"] = latent_pictures.interpolations(decode, jnp.asarray(codes[:2 * args.pairs]))
        if model.traversable:
            grids["traversals"] = latent_pictures.traversals(decode, jnp.asarray(codes[0]))
        for name, grid in grids.items():
            names.append(f"{name}.png")
            viz.save_png(os.path.join(partial, names[-1]), viz.make_grid(np.asarray(grid)))
        os.rename(partial, out)
    except (JaxaeError, OSError) as error:
        shutil.rmtree(partial, ignore_errors=True)
        print(f"jaxae.plot: error: {error}", file=sys.stderr)
        return 2
    for name in names:
        print(f"image: {os.path.join(out, name)}")
    return 0
