"""Each loop property once, over every shipped config (tests/cases.py): 8 devices give what 1 gives
under sharded jit and under pmap; a killed run resumes bit-exactly; `jaxae.load` gives back what the
run computed. What only one family does is tested in that family's module, on the same runs."""

import atexit
import inspect
import json
import os
import subprocess
import sys
import tempfile

import chex
import jax
import numpy as np
import pytest

import jaxae
from jaxae.data import host, whole_split
from jaxae.devices import parallel
from jaxae.errors import DataError
from jaxae.tools import export
from cases import CASES, KEPT_OUT, config, sources_of, trained
from helpers import assert_resumes_exactly, hungarian_accuracy, saved_steps, train

NAMES = sorted(CASES)


def test_every_shipped_config_is_a_case_or_kept_out_with_its_reason():
    shipped = {name[:-3] for name in os.listdir(os.path.join(os.path.dirname(__file__), "..", "configs"))
               if name.endswith(".py") and name != "__init__.py"}
    assert shipped == {case.config for case in CASES.values()} | set(KEPT_OUT)


def within_shape(leaf, like):
    """`leaf` cut to the shape of `like` (tables padded to a multiple of the device count)."""
    leaf = np.asarray(leaf)
    return leaf[tuple(slice(0, n) for n in np.shape(like))]


@pytest.mark.parametrize("mode", ["jit", "pmap"])
@pytest.mark.parametrize("name", NAMES)
def test_eight_devices_give_what_one_gives(tmp_path, name, mode):
    """Parameters, the state's extra (clusters, statistics, BatchNorm's averages, drawn labels) and
    the final eval: a gradient or a batch statistic not reduced over the devices, or a random draw
    that depends on the split, moves them far beyond float rounding."""
    one = trained(name)
    # Saved and evaluated at its end only: its saves and evals would be those of the one-device run.
    eight = train(tmp_path, config(name, mode, checkpoint_every=10_000, eval_every=0), sources_of(name),
                  parallel.make_mesh(8))
    rtol = CASES[name].rtol
    one_state, eight_state = jax.device_get(one.state), jax.device_get(parallel.fetch_to_host(eight.state))
    eight_cut = jax.tree.map(within_shape, eight_state, one_state)
    chex.assert_trees_all_close(eight_cut.params, one_state.params, rtol=rtol, atol=1e-5)
    chex.assert_trees_all_close(eight_cut.extra, one_state.extra, rtol=rtol, atol=1e-5)
    assert int(eight_state.step) == int(one_state.step)
    assert eight.eval_metrics == pytest.approx(one.eval_metrics, rel=max(rtol, 5e-4), abs=1e-6)


@pytest.mark.parametrize(("name", "keep_through"), [(name, step) for name in NAMES for step in CASES[name].kill_points])
def test_a_killed_run_resumes_bit_exactly(tmp_path, name, keep_through):
    """A copy of the run as if killed right after saving `keep_through` (before or after a phase
    start, a refresh or a draw, where the family has them) ends with the same state and metrics."""
    one = trained(name)
    assert keep_through in saved_steps(one.workdir), f"no checkpoint of step {keep_through} to kill at"
    assert_resumes_exactly(tmp_path, one.workdir, one, config(name), sources_of(name), keep_through)


def inputs_of(source, fields, n=None):
    rows = host.read_all(source, list(fields))
    return [rows[field][:n] for field in fields]


MAPPING = {"encode", "decode", "reconstruct", "scores", "log_likelihood", "predict", "predict_proba", "discriminate",
           "generate"}  # The calls that map over data, in batches (each takes batch_size=).


def calls(model, inputs, words, **batching):
    """Every call `model` offers, on `inputs` (and the vocabulary `words`): name -> what it returns.
    batching: `batch_size=` for the calls that map over data."""
    offered = {"encode": lambda: model.encode(*inputs, **batching),
               "reconstruct": lambda: model.reconstruct(*inputs, **batching),
               "scores": lambda: model.scores(*inputs, **batching),
               "log_likelihood": lambda: model.log_likelihood(*inputs, **batching),
               "predict": lambda: model.predict(*inputs, **batching),
               "predict_proba": lambda: model.predict_proba(*inputs, **batching),
               "discriminate": lambda: model.discriminate(*inputs, **batching),
               "generate": lambda: model.generate(4, seed=1, **batching),
               "column_vectors": lambda: model.column_vectors(), "embeddings": lambda: model.embeddings(words).vectors}
    if "decode" in model.offers:
        # An adversarial autoencoder with clusters decodes a style code with its category.
        given = (model.predict(*inputs, **batching),) if "categories" in inspect.signature(model.decode).parameters \
            and "predict" in model.offers else ()
        offered["decode"] = lambda: model.decode(model.encode(*inputs, **batching), *given, **batching)
    answers = {}
    for name in sorted(model.offers):
        try:
            answers[name] = offered[name]()
        except DataError as refused:  # log_likelihood's one line for a model that is not a binarised VAE.
            if name != "log_likelihood":
                raise
            answers[name] = str(refused)
    return answers


@pytest.mark.parametrize("name", NAMES)
def test_load_gives_what_the_run_computed(name, monkeypatch):
    """The run's step and config; every offered call finite and the same when called again, and the
    same in batches of 2 (only batches of 2 on the devices); and predicted labels that score the
    final eval's clustering accuracy or accuracy."""
    one = trained(name)
    model = jaxae.load(one.workdir, mesh=parallel.make_mesh(1))
    assert model.step == one.step and model.config.to_dict() == config(name).to_dict()
    train_source, test = sources_of(name)
    inputs, words = inputs_of(test, model.input_fields, 6), getattr(train_source, "metadata", {}).get("words")
    first, again = calls(model, inputs, words), calls(model, inputs, words)
    assert set(first) == set(model.offers) and first
    for call, answer in first.items():
        for leaf, repeated in zip(jax.tree.leaves(answer), jax.tree.leaves(again[call])):
            if np.issubdtype(np.asarray(leaf).dtype, np.floating):
                assert np.all(np.isfinite(leaf)), f"{call} gives non-finite values"
            np.testing.assert_array_equal(leaf, repeated, err_msg=call)
    batches = []
    made = whole_split.WholeSplit.__init__

    def counted(split, *args, **kwargs):
        made(split, *args, **kwargs)
        batches.append(split.batch_size)

    monkeypatch.setattr(whole_split.WholeSplit, "__init__", counted)
    in_twos = calls(model, inputs, words, batch_size=2)
    assert set(batches) <= {2} and len(batches) >= len(MAPPING & model.offers), batches
    for call, answer in first.items():
        if isinstance(answer, str):  # A refusal.
            assert in_twos[call] == answer
        else:
            chex.assert_trees_all_close(in_twos[call], answer, rtol=1e-5, atol=1e-6)
    if model.predicts and "label" in test.spec:
        *everything, labels = inputs_of(test, (*model.input_fields, "label"))
        predicted = np.asarray(model.predict(*everything))
        metrics = one.eval_metrics
        if model.predicts == "classes":
            assert np.mean(predicted == labels) == pytest.approx(metrics["eval/accuracy"], abs=1e-6)
        else:
            # A several-seeds run loads seed 0; InfoGAN scores its categorical code.
            scored = next(key for key in ("eval/cluster_acc/seed_0", "eval/cluster_acc", "eval/code_acc")
                          if key in metrics)
            expected = metrics[scored]
            assert hungarian_accuracy(labels, predicted) == pytest.approx(expected, abs=1e-6)


_EXPORTED_RUNNER: list = []


def run_without_jaxae(folder: str, inputs: dict, where: str) -> dict:
    """The outputs of `folder`'s artifacts on `inputs` ({'<part>/<input>': array}), computed by
    tests/run_exported.py: a process of JAX and NumPy alone, started once a test process."""
    if not _EXPORTED_RUNNER:
        script = os.path.join(os.path.dirname(__file__), "run_exported.py")
        env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        process = subprocess.Popen([sys.executable, script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                   env=env, cwd=tempfile.gettempdir())
        atexit.register(process.kill)
        _EXPORTED_RUNNER.append(process)
    process = _EXPORTED_RUNNER[0]
    np.savez(os.path.join(where, "inputs.npz"), **inputs)
    job = {"folder": folder, "inputs": os.path.join(where, "inputs.npz"), "outputs": os.path.join(where, "outputs.npz")}
    process.stdin.write(json.dumps(job) + "\n")
    process.stdin.flush()
    answer = process.stdout.readline()
    assert answer, "the JAX-only process ended (its error is on stderr)"
    assert json.loads(answer)["imported"] == [], answer
    return dict(np.load(job["outputs"]))


def artifact_inputs(model, part, data: dict, n: int) -> dict:
    """{input name: array} for `part` (an ExportedPart) of `model`: the split's `data` fields, codes
    and categories the model computes from them, draw indices, a seed or word ids."""
    values = {}
    for name, (shape, dtype) in part.inputs.items():
        if name in data:
            values[name] = data[name]
        elif name.endswith("_observed"):  # Complete rows: every cell observed.
            values[name] = np.ones((n, *shape), bool)
        elif name in ("code", "style"):
            values[name] = model.encode_fields(*[data[field] for field in model.input_fields])
        elif name == "category":
            values[name] = model.predict_proba(data["image"])
        elif name == "seed":
            values[name] = np.int32(3)
        else:  # 'index' of a draw or a posterior sample, a word's id.
            assert name in ("index", "word"), name
            values[name] = np.arange(n, dtype=np.int32)
    return values


def call_of(model, part, values: dict, n: int) -> tuple:
    """What `model`'s own call gives on the artifact's inputs `values`: a tuple of `part.outputs`."""
    fields = [values[field] for field in model.input_fields if field in values]
    if part.call in ("encode", "scores", "predict"):
        answer = getattr(model, f"{part.call}_fields")(*fields)
        if "category" in part.outputs:  # A clustering AAE's encoder gives its categories too.
            answer = (answer, model.predict_proba(*fields))
    elif part.call == "decode":
        answer = model.decode(*[values[name] for name in part.inputs])
    elif part.call == "generate":
        answer = model.generate(n, seed=int(values["seed"]))
    elif part.call == "embeddings":
        answer = model.input_vectors[values["word"]]
    else:
        answer = getattr(model, part.call)(*fields)
    return answer if isinstance(answer, tuple) else (answer,)


CUDA_LOWERED = {"vae_mnist", "conv_vae_mnist", "infogan_mnist", "aae_cluster_mnist", "tabular_breast_cancer",
                "autorec_ml100k", "sgns_wiki"}


@pytest.mark.parametrize("name", NAMES)
def test_the_export_runs_without_jaxae_and_gives_what_load_gives(name, tmp_path):
    """Every part the family offers, exported by `python -m jaxae.export`, run in a process that imports
    neither jaxae nor Flax on a batch of another size than any traced: the outputs of `jaxae.load`'s
    calls to 1e-5. The cases of `CUDA_LOWERED` export for the default platforms, cpu and cuda (lowering
    for CUDA needs no GPU): dense, convolutional, batch-normalised, random and table parts."""
    one = trained(name)
    model = jaxae.load(one.workdir, mesh=parallel.make_mesh(1))
    platforms = [] if name in CUDA_LOWERED else ["--platforms", "cpu"]
    assert export.main(["--workdir", one.workdir, "--out", str(tmp_path / "exported"), *platforms]) == 0
    manifest = json.loads((tmp_path / "exported" / "manifest.json").read_text())
    parts = model.parts()
    assert set(manifest["parts"]) == set(parts) and parts
    n = 5
    _, test = sources_of(name)
    data = dict(zip(model.input_fields, inputs_of(test, model.input_fields, n))) if model.input_fields else {}
    inputs, expected = {}, {}
    for part_name, part in parts.items():
        values = artifact_inputs(model, part, data, n)
        inputs |= {f"{part_name}/{key}": value for key, value in values.items()}
        expected |= {f"{part_name}/{key}": value for key, value in zip(part.outputs, call_of(model, part, values, n))}
        assert manifest["parts"][part_name]["computes"] == part.call
    got = run_without_jaxae(str(tmp_path / "exported"), inputs, str(tmp_path))
    assert set(got) == set(expected)
    for key, value in expected.items():
        value = np.asarray(value)
        assert got[key].shape == value.shape, key
        if np.issubdtype(value.dtype, np.floating):
            np.testing.assert_allclose(got[key], value, rtol=1e-5, atol=1e-5, err_msg=key)
        else:
            np.testing.assert_array_equal(got[key], value, err_msg=key)
    if model.predicts:  # Labels (clusters, classes) as integers.
        assert np.asarray(model.predict_fields(*[data[field] for field in model.input_fields])).dtype.kind == "i"


def test_the_export_refuses_an_existing_folder_and_unknown_platforms(tmp_path, capsys):
    run = trained("vae_mnist").workdir
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "mine.txt").write_text("kept")
    assert export.main(["--workdir", run, "--out", str(tmp_path / "taken")]) == 2
    assert "exists; choose a new folder (nothing was written)" in capsys.readouterr().err
    assert os.listdir(tmp_path / "taken") == ["mine.txt"]
    with pytest.raises(SystemExit):
        export.parse(["--workdir", run, "--out", str(tmp_path / "new"), "--platforms", "cpu,metal"])
    assert "metal unknown" in capsys.readouterr().err
    assert export.main(["--workdir", str(tmp_path), "--out", str(tmp_path / "new")]) == 2
    assert "holds no jaxae run" in capsys.readouterr().err and not (tmp_path / "new").exists()
