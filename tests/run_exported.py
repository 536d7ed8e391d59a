"""Runs `python -m jaxae.export` artifacts with JAX and NumPy alone, as a user without jaxae would.

Started once by tests/test_every_family.py; reads one job a line on stdin, {"folder": the exported
folder, "inputs": an .npz of '<part>/<input>' arrays, "outputs": the .npz to write of
'<part>/<output>'}, and answers each with a line: the modules of jaxae, Flax or Optax it has
imported (none, or the test fails)."""

import json
import os
import sys

import jax
import numpy as np

for line in sys.stdin:
    job = json.loads(line)
    with open(os.path.join(job["folder"], "manifest.json")) as file:
        manifest = json.load(file)
    inputs, outputs = np.load(job["inputs"]), {}
    for name, part in manifest["parts"].items():
        with open(os.path.join(job["folder"], part["file"]), "rb") as file:
            exported = jax.export.deserialize(bytearray(file.read()))
        results = exported.call(*[inputs[f"{name}/{given['name']}"] for given in part["inputs"]])
        for given, result in zip(part["outputs"], results):
            outputs[f"{name}/{given['name']}"] = np.asarray(result)
    np.savez(job["outputs"], **outputs)
    imported = sorted(module for module in sys.modules if module.split(".")[0] in ("jaxae", "flax", "optax"))
    print(json.dumps({"imported": imported}), flush=True)
