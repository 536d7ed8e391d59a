"""Export a trained run's model to run without jaxae, from the command line:

    python -m jaxae.export --workdir runs/vae_mnist --out exported/vae_mnist
    python -m jaxae.export --workdir runs/vae_mnist --out exported/vae_mnist --platforms cpu,cuda

For each part the run's family offers (encoder, decoder, scorer, clusterer, classifier, generator,
discriminator, predictor; `TrainedModel.parts`) it writes `<part>.jax_export`: the part's function
with the trained weights inside, serialized by `jax.export` as StableHLO with a symbolic batch
dimension, which JAX runs without jaxae or Flax (`pip install jax flatbuffers`: deserializing needs
flatbuffers, which jax does not install):

    exported = jax.export.deserialize(bytearray(open("exported/vae_mnist/encoder.jax_export", "rb").read()))
    codes, = exported.call(images)  # images: [b, 28, 28, 1] uint8, as the run's data held them

and `manifest.json`: each part's inputs and outputs (name, shape with null for the batch, dtype),
the model's call it computes, the input transform (what is applied inside, or for a table the
recorded column transform that gives its fields), the platforms, the run and the versions. The
folder (and any missing parent) appears whole or not at all, and an existing one is never written into.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile

MANIFEST = "manifest.json"
SUFFIX = ".jax_export"
PLATFORMS = ("cpu", "cuda", "rocm", "tpu")


def parse(argv):
    parser = argparse.ArgumentParser(prog="python -m jaxae.export", description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", required=True, help="the run's folder (it holds checkpoints/)")
    parser.add_argument("--out", required=True, help="the folder to write (must not exist)")
    parser.add_argument("--step", type=int, default=None,
                        help="a checkpoint's step (default: the best early stopping kept, else the newest intact)")
    parser.add_argument("--platforms", default="cpu,cuda",
                        help=f"comma-separated platforms the artifacts run on, of {', '.join(PLATFORMS)} (default: cpu,cuda)")
    args = parser.parse_args(argv)
    args.platforms = tuple(dict.fromkeys(name.strip() for name in args.platforms.split(",") if name.strip()))
    unknown = sorted(set(args.platforms) - set(PLATFORMS)) or ([] if args.platforms else ["(none)"])
    if unknown:
        parser.error(f"--platforms: {', '.join(unknown)} unknown; choose among {', '.join(PLATFORMS)}")
    return args


def exported(part, platforms):
    """`part` (an ExportedPart) as a `jax.export.Exported` with a symbolic batch dimension 'b'."""
    import jax

    names = list(part.inputs)
    (batch,) = jax.export.symbolic_shape("b")

    def fn(*arrays):
        out = part.fn(*part.args, dict(zip(names, arrays)))
        return tuple(out[name] for name in part.outputs)

    shapes = [jax.ShapeDtypeStruct(tuple(shape) if name in part.unbatched else (batch, *shape), dtype)
              for name, (shape, dtype) in part.inputs.items()]
    return jax.export.export(jax.jit(fn), platforms=platforms)(*shapes)


def _arrays(avals, names, unbatched=()):
    """[{name, shape (None for the batch), dtype}] of a part's inputs or outputs."""
    return [{"name": name, "shape": [dim if isinstance(dim, int) else None for dim in aval.shape],
             "dtype": str(aval.dtype)} | ({"batched": False} if name in unbatched else {})
            for name, aval in zip(names, avals)]


def input_transform(model) -> dict:
    """What turns a user's data into the artifacts' inputs, for the manifest."""
    recorded = model.record.get("data", {}).get("input_transform")
    if recorded:
        return {"applied": "outside: the fields are the recorded column transform's (jaxae.data.tables.TableEncoder) "
                           "of raw rows", "transform": recorded}
    if tuple(model.input_fields) == ("image",):
        shape, dtype = model.field("image")
        held = "[0, 255]" if dtype == "uint8" else "[0, 1]"
        return {"applied": f"inside: images [b, {', '.join(map(str, shape))}] of {dtype} in {held}, as the run's data "
                           "held them (after any resizing its data set did), are scaled as the model takes them"}
    return {"applied": "none: the inputs are the fields of the run's data set"}


def export_run(workdir: str, out: str, *, step: int | None = None, platforms=("cpu", "cuda")) -> dict:
    """Writes the run's parts and manifest into the new folder `out`; returns the manifest.

    Raises:
      JaxaeError: `out` exists, its folder does not, or the run's family offers nothing to export
        (CheckpointError: no run or checkpoint to read).
    """
    import jax

    from jaxae import __version__
    from jaxae.devices import parallel
    from jaxae.engine.load import load
    from jaxae.errors import JaxaeError

    out = os.path.abspath(os.path.expanduser(out))
    if os.path.exists(out):
        raise JaxaeError(f"--out={out} exists; choose a new folder (nothing was written)")
    model = load(workdir, step=step, mesh=parallel.make_mesh(1))  # One device: artifacts free of any sharding.
    parts = model.parts()
    if not parts:
        raise JaxaeError(f"the run in {workdir!r} ({model.config.trainer}) offers no part to export")
    manifest = {"format": "jax.export (serialized StableHLO; needs jax and flatbuffers): "
                          "jax.export.deserialize(bytearray(file bytes)).call(*inputs)",
                "platforms": list(platforms), "input_transform": input_transform(model),
                "run": {"workdir": os.path.abspath(os.path.expanduser(workdir)), "step": model.step,
                        "trainer": model.config.trainer, "model": model.config.model.get("name", ""),
                        "data": model.config.data.name},
                "versions": {"jaxae": __version__, "jax": jax.__version__}, "parts": {}}
    os.makedirs(os.path.dirname(out), exist_ok=True)
    # A staging folder of this export's own beside `out` (never a user's folder, nor another export's).
    partial = tempfile.mkdtemp(dir=os.path.dirname(out), prefix=f".{os.path.basename(out)}.", suffix=".partial")
    try:
        for name, part in parts.items():
            artifact = exported(part, platforms)
            with open(os.path.join(partial, name + SUFFIX), "wb") as file:
                file.write(artifact.serialize())
            manifest["parts"][name] = {
                "file": name + SUFFIX, "computes": part.call,
                "inputs": _arrays(artifact.in_avals, list(part.inputs), part.unbatched),
                "outputs": _arrays(artifact.out_avals, part.outputs)}
        with open(os.path.join(partial, MANIFEST), "w") as file:
            json.dump(manifest, file, indent=1)
        if os.path.exists(out):  # Made while this export ran: it is not replaced.
            raise JaxaeError(f"--out={out} appeared while exporting; choose a new folder (nothing was written)")
        os.rename(partial, out)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return manifest


def main(argv=None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    from jaxae.errors import JaxaeError

    try:
        manifest = export_run(args.workdir, args.out, step=args.step, platforms=args.platforms)
    except (JaxaeError, OSError) as error:
        print(f"jaxae.export: error: {error}", file=sys.stderr)
        return 2
    print(f"{', '.join(manifest['parts'])} of step {manifest['run']['step']} for {', '.join(manifest['platforms'])}: "
          f"{os.path.abspath(args.out)} (see its {MANIFEST})")
    return 0
