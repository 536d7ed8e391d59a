"""Every shipped config as one case of the loop-property tests (tests/test_every_family.py).

A case is a config's tiny variant, short and saved at every few steps, on small data of its kind:
scikit-learn's digits (thresholded to black and white for the configs that binarise), a small mixed
table, synthetic ratings or a synthetic corpus. Adam's normalisation would hide a gradient that is
N times too large, and it magnifies rounding in its first steps, so where a family's optimizer is
Adam the case trains on plain SGD: then 1 and 8 devices must agree closely.

`trained(name)` trains a case once a test process; the family's own tests read the same run for
what only that family does (conftest.py's xdist scheduler sends them to the worker that holds it).
"""

import dataclasses
import functools
import os
import tempfile

from helpers import mixed_frame, tiny, train, with_holes

# Short runs that save often: each checkpoint a killed copy can restart from is kept.
SHORT = dict(num_steps=6, log_every=2, checkpoint_every=2, eval_every=6)


@dataclasses.dataclass(frozen=True)
class Case:
    """config: the shipped config; fields: set on its tiny variant ('a__b' is a.b); data: digits (as
    arrays; tfds_digits as the embedded data set), table, ratings or corpus; sgd: the plain-SGD rate
    replacing Adam (None keeps the optimizers); kill_points: steps a killed copy keeps through; home:
    the test module that reads the run too; rtol: how closely 8 devices' parameters and final eval
    match 1's."""

    config: str
    fields: dict
    data: str = "digits"
    sgd: float | None = 0.05
    kill_points: tuple[int, ...] = (2, 4)
    home: str | None = None
    rtol: float = 1e-4


def _image(config, sgd=0.05, **fields):
    return Case(config, SHORT | fields, sgd=sgd)


# Clustering families pretrain 10 steps (their tiny variant), then cluster `num_steps` more.
# Their pretraining on SGD 0.01 (not momentum): K-means then meets codes 1e-7 apart, not 1e-4.
_CLUSTERING = dict(num_steps=4, log_every=2, checkpoint_every=2, eval_every=0, optimizer__name="sgd",
                   optimizer__learning_rate=0.01, optimizer__per_pixel=False)

CASES = {
    "ae_mnist": _image("ae_mnist"),
    "dae_mnist": _image("dae_mnist"),
    "sparse_ae_mnist": _image("sparse_ae_mnist"),
    "vae_mnist": _image("vae_mnist"),
    "conv_vae_mnist": _image("conv_vae_mnist", model__channels=(4,)),  # 8x8 digits: one halving.
    # The importance weights amplify rounding: at SGD 0.05, 1 and 8 devices drift 3.8e-4 apart in 20 steps.
    "iwae_mnist": _image("iwae_mnist", sgd=0.01),
    # At SGD 0.01 VaDE's loss diverges in 4 steps; the mixture is fitted by scikit-learn on codes 1e-7 apart.
    "vade_mnist": Case("vade_mnist", _CLUSTERING, sgd=1e-3, kill_points=(4, 12), rtol=1e-3),
    # DEC's two optimizers (momentum by default) on plain SGD at their own rates.
    "dec_mnist": Case("dec_mnist", dict(num_steps=12, log_every=2, checkpoint_every=2, eval_every=0,
                                        optimizer__name="sgd", cluster__optimizer__name="sgd"),
                      sgd=None, kill_points=(10, 12), home="test_clustering_families.py"),
    "dec_mnist-2-seeds": Case("dec_mnist", dict(num_steps=12, log_every=2, checkpoint_every=2, eval_every=0,
                                                optimizer__name="sgd", cluster__optimizer__name="sgd", num_seeds=2),
                              sgd=None, kill_points=(12,), home="test_seeds.py"),
    "idec_mnist": Case("idec_mnist", _CLUSTERING, sgd=0.01, kill_points=(10, 12)),
    "dcn_mnist": Case("dcn_mnist", dict(num_steps=8, log_every=4, checkpoint_every=4, optimizer__name="sgd",
                                        optimizer__learning_rate=0.01, optimizer__per_pixel=False,
                                        dcn__initial_count=1.0),
                      sgd=0.01, kill_points=(8, 12), home="test_clustering_families.py"),
    # K-means is a hook alone where pretraining ends (step 10): killed at 8, the resumed run makes it.
    "ae_kmeans_mnist": Case("ae_kmeans_mnist", _CLUSTERING, sgd=0.01, kill_points=(4, 8)),
    # Pretraining 10 steps, then merges at 10 (start), 12 and 14 (refreshes every 2): 25 -> 16 -> 10.
    "jule_mnist": Case("jule_mnist", dict(num_steps=8, log_every=2, checkpoint_every=2, eval_every=0,
                                          jule__update_interval=2, optimizer__name="sgd", optimizer__learning_rate=0.01,
                                          optimizer__per_pixel=False),
                       sgd=0.01, kill_points=(12,), home="test_jule.py"),
    # Killed in pretraining (the class-balanced draw at step 8 runs again on resume) or classifying.
    "few_labels_mnist": Case("few_labels_mnist", dict(num_steps=8, log_every=4, checkpoint_every=4, eval_every=0,
                                                      classifier__mode="finetune", classifier__num_labels=50,
                                                      pretrain__num_steps=8),
                             sgd=None, kill_points=(4, 12)),
    "few_labels_mnist-regularised": Case("few_labels_mnist", dict(num_steps=8, log_every=4, checkpoint_every=4,
                                                                  eval_every=0, classifier__mode="regularised",
                                                                  classifier__num_labels=50, pretrain__num_steps=8),
                                         sgd=None, kill_points=(4,)),
    "gan_mnist": Case("gan_mnist", dict(num_steps=8, log_every=2, checkpoint_every=2, eval_every=0), kill_points=(4,)),
    # BatchNorm in the discriminator too: its running averages are batch statistics over every device.
    "dcgan_mnist": Case("dcgan_mnist", dict(num_steps=8, log_every=2, checkpoint_every=2, eval_every=0,
                                            model__discriminator_batch_norm=True),
                        kill_points=(4,), home="test_gan.py"),
    "infogan_mnist": Case("infogan_mnist", dict(num_steps=8, log_every=2, checkpoint_every=2, eval_every=0),
                          kill_points=(4,)),
    "aae_mnist": Case("aae_mnist", SHORT, sgd=0.01, kill_points=(2,)),
    # On the digits as the embedded tfds data set: `python -m jaxae.encode` reads a run's eval split back.
    "aae_cluster_mnist": Case("aae_cluster_mnist", SHORT, data="tfds_digits", sgd=0.01, kill_points=(2,),
                              home="test_aae.py"),
    "autorec_ml100k": Case("autorec_ml100k", dict(num_steps=60, checkpoint_every=20, eval_every=0), data="ratings",
                           sgd=None, kill_points=(40,)),
    # 40 steps: float rounding that differs between device layouts stays below the tolerance.
    "sgns_wiki": Case("sgns_wiki", dict(num_steps=40, checkpoint_every=20, eval_every=0), data="corpus", sgd=None,
                      kill_points=(20,), home="test_sgns.py"),
    # The eval's squared error differs 1.1e-4 relative with parameters 1e-4 apart.
    "tabular_breast_cancer": Case("tabular_breast_cancer", dict(SHORT, table__categorical_weight=2.0, table__missing=True,
                                                                table__hide_fraction=0.2), data="table",
                                  kill_points=(2,), home="test_tabular.py", rtol=5e-4),
}

# Shipped configs without a case, and why.
KEPT_OUT = {"n2d_mnist": "UMAP's first compile (numba) takes 30-70 s a process: tests/test_n2d.py runs N2D's "
                         "properties on one shared run"}


def on_plain_sgd(section, rate: float) -> None:
    """Every Adam optimizer in the config `section` (nested sections included) becomes SGD at `rate`."""
    for key in list(section.keys()):
        value = section[key]
        if not hasattr(value, "keys"):
            continue
        if value.get("name") in ("adam", "adamw") and "learning_rate" in value:
            value.name, value.learning_rate = "sgd", rate
            if "per_pixel" in value:
                value.per_pixel = False
        on_plain_sgd(value, rate)


def config(name: str, mode: str = "jit", **fields):
    """Case `name`'s config under `parallel.mode` `mode`, with `fields` set too ('a__b' is a.b)."""
    case = CASES[name]
    made = tiny(case.config, keep_checkpoints=100, **(case.fields | {"parallel__mode": mode} | fields))
    if case.sgd is not None:
        on_plain_sgd(made, case.sgd)
    if case.data == "table":
        made.table.cardinalities = table_data()[0].cardinalities
    return made


# ------------------------------------------------------------------------------ data, once a process


@functools.cache
def digits():
    """(train, test) ArraySources of scikit-learn's 8x8 digits, every fifth digit held out for test."""
    from jaxae.data.builders import every_fifth_is_test, load_sklearn_digits_arrays, split_masks
    from jaxae.data.sources import ArraySource

    images, labels = load_sklearn_digits_arrays()
    masks = split_masks(labels, every_fifth_is_test)
    return tuple(ArraySource.from_images(images[masks[s]], labels[masks[s]], name=f"digits {s}")
                 for s in ("train", "test"))


@functools.cache
def binary_digits():
    """The digits thresholded to black and white, for the configs that binarise their input."""
    from jaxae.data import host
    from jaxae.data.sources import ArraySource

    def threshold(source):
        rows = host.read_all(source, ["image", "label"])
        return ArraySource.from_images((rows["image"] >= 128).astype("uint8") * 255, rows["label"],
                                       name=f"black-and-white {source.where}")

    return tuple(threshold(source) for source in digits())


@functools.cache
def table_data():
    """(the fitted TableEncoder, (source, source)): the mixed table with missing cells, trained and evaluated on."""
    from jaxae.data.sources import ArraySource
    from jaxae.data.tables import TableEncoder

    frame = with_holes(mixed_frame())  # A tenth of three columns' cells missing: masked out of the loss.
    table = TableEncoder().fit(frame)
    source = ArraySource(table.fields(frame), kinds={"numeric": "dense", "categorical": "ids", "numeric_observed": "mask",
                                                     "categorical_observed": "mask"})
    return table, (source, source)


@functools.cache
def _data_dir() -> str:
    return tempfile.mkdtemp(prefix="tfds-", dir=os.environ.get("JAXAE_TEST_RUNS"))


@functools.cache
def prepared(kind: str):
    """(train, test) of the synthetic ratings or corpus, or of the digits, prepared by their tfds builders."""
    from jaxae.data import sources

    if kind == "tfds_digits":
        return tuple(sources.open_tfds("sklearn_digits", split) for split in ("train", "test"))
    data = tiny({"ratings": "autorec_ml100k", "corpus": "sgns_wiki"}[kind]).data
    return tuple(sources.open_tfds(kind, split, _data_dir(), data) for split in ("train", "test"))


def sources_of(name: str):
    """Case `name`'s (train, eval) sources."""
    case = CASES[name]
    if case.data == "table":
        return table_data()[1]
    if case.data in ("ratings", "corpus", "tfds_digits"):
        return prepared(case.data)
    binarises = tiny(case.config).data.get("binarize", "none") != "none"
    return binary_digits() if binarises else digits()


# Modules whose tests share a cost paid once a process: the clustering estimator's N2D and
# tests/test_n2d.py both meet UMAP's first compile (numba, 20-30 s a process).
SHARED_WORKER = {"test_clustering_estimator.py": "test_n2d.py"}


def worker_group(nodeid: str) -> str:
    """The xdist work unit of the test `nodeid`: its module (or the module it shares a worker with),
    or for a case of test_every_family.py the module that reads the case's run (its own unit where
    none does)."""
    module, _, test = nodeid.partition("::")
    folder, name = os.path.split(module)
    if name in SHARED_WORKER:
        return os.path.join(folder, SHARED_WORKER[name])
    if not module.endswith("test_every_family.py") or "[" not in test:
        return module
    ids = test[test.index("[") + 1:-1]
    name = max((name for name in CASES if ids == name or ids.startswith(name + "-")), key=len, default=None)
    if name is None:
        return module
    home = CASES[name].home
    return f"{os.path.dirname(module)}/{home}" if home else f"{module}::{name}"


_RUNS: dict = {}


def trained(name: str):
    """Case `name` trained on one device, once a process; its `.workdir` is kept to the session's end."""
    if name not in _RUNS:
        workdir = tempfile.mkdtemp(prefix=f"{name}-", dir=os.environ.get("JAXAE_TEST_RUNS"))
        _RUNS[name] = train(workdir, config(name), sources_of(name))
    return _RUNS[name]
