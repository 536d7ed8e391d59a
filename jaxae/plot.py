"""Pictures of a trained autoencoder's code space, from the command line:

    python -m jaxae.plot --workdir runs/vae_mnist --out runs/vae_mnist/plots

writes into --out (a new folder): `codes.png`, the codes of the run's eval split (or --split)
mapped to 2-D (as they are when 2-D, else by PCA, or --method umap) and coloured by label;
`interpolations.png`, decoded straight lines between the codes of pairs of eval images; and for a
VAE `traversals.png`, each of the first 10 code dimensions moved over +-3 around one image's code.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from jaxae.errors import JaxaeError

METHODS = ("pca", "umap")


def to_plane(codes: np.ndarray, method: str, seed: int = 0) -> np.ndarray:
    """codes [n, d] -> [n, 2]: themselves when d == 2, else PCA's first two components or UMAP."""
    if codes.shape[1] == 2:
        return codes
    if method == "umap":
        import umap

        return umap.UMAP(n_components=2, random_state=seed).fit_transform(codes)
    from sklearn.decomposition import PCA

    return PCA(2, random_state=seed).fit_transform(codes)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jaxae.plot", description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", required=True, help="the run's folder (it holds checkpoints/)")
    parser.add_argument("--out", required=True, help="a new folder for the PNG files")
    parser.add_argument("--split", default="", help="a split of the run's data set (default: its eval split)")
    parser.add_argument("--method", default="pca", choices=METHODS, help="how codes wider than 2 are mapped to 2-D")
    parser.add_argument("--pairs", type=int, default=8, help="interpolation rows")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    out = os.path.abspath(os.path.expanduser(args.out))
    try:
        if os.path.exists(out):
            raise JaxaeError(f"--out={out} exists; choose a new folder (nothing was written)")
        import jax.numpy as jnp

        from jaxae import latent_pictures, viz
        from jaxae.data import host, sources
        from jaxae.inference import load

        model = load(args.workdir)
        if not hasattr(model, "encode") or getattr(model, "input_fields", None) != ("image",):
            raise JaxaeError(f"the run in {args.workdir!r} ({model.config.trainer}) is not an image autoencoder")
        data = model.config.data
        split = sources.open_tfds(data.name, args.split or data.eval_split, data.tfds_data_dir or None, data)
        arrays = host.read_all(split, ["image"] + (["label"] if "label" in split.spec else []))
        codes = model.encode(arrays["image"])
        os.makedirs(out)
        written = [os.path.join(out, "codes.png")]
        viz.scatter_png(written[0], to_plane(codes, args.method), arrays.get("label"))
        decode = lambda z: model.decode(np.asarray(z))  # noqa: E731
        grids = {"interpolations": latent_pictures.interpolations(decode, jnp.asarray(codes[:2 * args.pairs]))}
        if model.variational:
            grids["traversals"] = latent_pictures.traversals(decode, jnp.asarray(codes[0]))
        for name, grid in grids.items():
            written.append(os.path.join(out, f"{name}.png"))
            viz.save_png(written[-1], viz.make_grid(np.asarray(grid)))
    except JaxaeError as error:
        print(f"jaxae.plot: error: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(f"image: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
