"""The Trainer contract: everything the shared loop may rely on (`CONTRACT`).

A family (autoencoder, ae_kmeans, dcn, dec, vade, jule, n2d, gan, aae, tabular, classifier,
autorec, sgns) is a subclass of `Trainer` in a sub-package of ``jaxae/trainers/``, registered by
name in `registry.FAMILIES`; a config picks it with ``config.trainer``. The loop, runners and evaluator
only call what this module declares:

* from the config alone, before data is read: `validate_config`, `train_fields`/`eval_fields`
  (the typed data it needs, {name: kind}, see `data.spec`);
* built with the training split's spec and size: `identity` (what a resume must match),
  `phases` (name, length, step, optional hook at the start and refresh every T steps),
  `label_classes` and `check_data` (checks of the data before compute), `init`, `init_from` and
  `adopt` (a trained run a fresh state starts from, which the loop loads), `state_sharding`,
  `eval_step` + `eval_report`, `pictures`, `guarded_metrics`, `diagnose`, `export` (files a
  finished run leaves, named in `exported_files`) and `inference` for `jaxae.load`.

Steps are pure ``(state, batch) -> (state, metrics)``; a batch is {field: [batch, ...]} for
each field asked for, plus 'index' [batch] int32, each example's index in its split. Hooks run
on the host between dispatches, may map functions over the whole training split
(`whole_split.WholeSplit`), and return a new state; the loop follows a start hook by a checkpoint
and replays refreshes on resume, so both must be pure functions of the state.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Callable

import jax
import numpy as np

from jaxae.config import checks
from jaxae.data import spec as specs
from jaxae.devices import parallel
from jaxae.errors import ConfigError, DataError
from jaxae.metrics import means
from jaxae.steps.updates import guarded_gradient_step

# What the loop, runners and evaluator call on a built trainer: a wrapper (trainers/seeds.py) forwards
# every one of them. `validate_config`, `train_fields` and `eval_fields` are also called on the family's
# class, before it is built; the other public members of `Trainer` are helpers for the families.
CONTRACT = ("train_fields", "eval_fields", "optional_eval_fields", "identity", "phases", "label_classes", "check_data", "init",
            "init_from", "adopt", "state_sharding", "eval_step", "eval_report", "pictures", "diagnose", "export",
            "inference", "window_means", "guarded_metrics", "every_step_metrics", "exported_files")
CLASS_CONTRACT = ("validate_config", "early_stopping_refused")
HELPERS = ("identity_of", "epochs_or_steps", "num_steps", "train_step", "gradient_step")

Step = Callable[[Any, dict], tuple[Any, dict]]  # (state, batch) -> (state, metrics)
Hook = Callable[[Any, Any], tuple[Any, dict]]  # (state, whole training split) -> (state, metrics)


@dataclasses.dataclass(frozen=True)
class Phase:
    """One stretch of training with its own step.

    Attributes:
      name: short, unique within the run ('pretrain', 'cluster', 'train').
      num_steps: how many updates the phase makes; 0 for a phase that is its start hook alone.
      step: the pure train step of this phase (None for a hook alone).
      on_start: optional hook run when the phase begins (e.g. K-means on the codes of the whole
        training split); it returns the new state and a few scalar metrics to record.
      refresh: optional hook run every `refresh_every` steps after the phase began (e.g. DEC's
        target distribution); same signature as `on_start`.
      refresh_every: the refresh period in steps (0: never).
    """

    name: str
    num_steps: int
    step: Step
    on_start: Hook | None = None
    refresh: Hook | None = None
    refresh_every: int = 0


class Trainer:
    """Base class and documentation of the contract; a family overrides what it needs.

    Args:
      config: the run's ConfigDict.
      spec: the training split's fields ({name: `data.spec.Field`}).
      num_examples: the training split's size (sets the steps of an epoch).
      axis_name: the mapped device axis under `pmap` (train steps average gradients over it and
        take batch statistics through `parallel.batch_mean`); None under `jit`. Only phase steps
        run under `pmap`: `init`, hooks, `eval_step` and `pictures` always run under plain `jit`.
    """

    # Metrics of a train step whose non-finite window mean stops the run (those a phase reports).
    guarded_metrics: tuple[str, ...] = ("loss", "grad_norm")
    # Train metrics every step records, skipped ones too, so that their window mean is over every step
    # (`metrics.means.window_means`): the skip count, and loss scales where a family scales its loss.
    every_step_metrics: tuple[str, ...] = ("skipped",)
    # The files `export` writes in the workdir, which a finished run lists with its other outputs; the
    # loop calls `export` only for a family that names some.
    exported_files: tuple[str, ...] = ()
    # Why `config.early_stopping` cannot watch this family's evals (None: it can), said when a config asks.
    early_stopping_refused: str | None = None

    def __init__(self, config, spec: dict, num_examples: int, *, axis_name: str | None = None):
        self.config, self.spec, self.num_examples, self.axis_name = config, spec, num_examples, axis_name
        self.steps_per_epoch = num_examples // config.batch_size

    # ------------------------------------------------------------------ from the config alone

    @classmethod
    def validate_config(cls, config) -> None:
        """Raises ConfigError for the first of the family's fields that is wrong. The base checks
        the length of the default single phase."""
        checks.number(config, "num_epochs", low=0, integer=True)
        checks.number(config, "num_steps", low=0, integer=True)
        if config.num_steps == 0 and config.num_epochs == 0:
            raise ConfigError("num_epochs=0 and num_steps=0: set one of them to a positive number")

    @classmethod
    def train_fields(cls, config) -> dict[str, str]:
        """{field name: kind} that every train batch must carry."""
        raise NotImplementedError

    @classmethod
    def eval_fields(cls, config) -> dict[str, str]:
        """{field name: kind} that every eval batch must carry (default: the train fields)."""
        return cls.train_fields(config)

    @classmethod
    def optional_eval_fields(cls, config) -> dict[str, str]:
        """{field name: kind} that eval batches carry when the eval split holds them: labels to score
        clusters against, where a split without them gets the label-free measures. Default none."""
        del config
        return {}

    # ------------------------------------------------------------------ with the data

    def identity(self) -> dict[str, Any]:
        """{name: JSON value} that a checkpoint and the run resuming it must share.

        The loop adds the family's name, the data's fingerprint and spec, the seed and the batch
        size. Families list the config fields that change what the state means (model, loss,
        input transform, optimizer layout); cadence and learning rates stay free to change.
        """
        return {}

    def identity_of(self, *fields: str) -> dict[str, Any]:
        """{field: value} for dotted config fields, as JSON gives them back (tuples as lists)."""
        return json.loads(json.dumps({field: checks.get(self.config, field) for field in fields}))

    def epochs_or_steps(self, epochs_field: str = "num_epochs", steps_field: str = "num_steps") -> int:
        """The length of a phase given as `steps_field` (when > 0) or else `epochs_field` epochs."""
        steps = checks.get(self.config, steps_field)
        return steps or checks.get(self.config, epochs_field) * self.steps_per_epoch

    def phases(self) -> tuple[Phase, ...]:
        """The run's phases in order; by default one 'train' phase of `train_step`."""
        return (Phase("train", self.epochs_or_steps(), self.train_step),)

    @property
    def num_steps(self) -> int:
        return sum(phase.num_steps for phase in self.phases())

    def train_step(self, state, batch):
        raise NotImplementedError

    def gradient_step(self, tx, params, opt_state, loss_fn):
        """One guarded step of `tx` on `params`.

        loss_fn(params) -> (scalar loss, (metrics with 'loss', aux)). Returns (params, opt_state,
        metrics, aux); under `pmap` gradients and metrics are averaged over devices.
        """
        params, opt_state, _, metrics, aux = guarded_gradient_step(
            loss_fn, tx, params, opt_state, axis_name=self.axis_name, skip_nonfinite=self.config.nonfinite == "skip")
        return params, opt_state, metrics, aux

    def label_classes(self) -> tuple[int, str] | None:
        """(how many classes the family takes in a 'label' field, what sets that count in the
        config's or data's words), or None when it reads no labels. The loop refuses, before
        compute, a split whose labels reach that count: they would fall out of a contingency matrix
        or a cross-entropy silently. Default: None."""
        return None

    def check_data(self, source) -> None:
        """Raises ConfigError or DataError when the training split `source` cannot be trained as the
        config asks (e.g. colour images under a binarisation); may read a sample of it. Called by
        the loop before anything is compiled. Default: nothing to check."""
        del source

    def init(self, key):
        """key -> a fresh train state: a pytree of arrays with an int32 scalar `step`, which every
        train step increments by one. Pure: the loop runs it under `jit`."""
        raise NotImplementedError

    def init_from(self) -> str | None:
        """The workdir of a trained run that a fresh state starts from, or None (the default).

        The loop loads that run with `jaxae.load` on this run's devices and hands the model to
        `adopt` before the hooks of step 0; a resumed state has it already. A family reads the
        path from its config (the clustering families' `cluster.init_from`) and checks the run's
        record in `validate_config`."""
        return None

    def adopt(self, state, trained: "TrainedModel"):
        """A fresh state (from `init`) given the model `jaxae.load` read from `init_from()`'s run ->
        the state to start from, of the same layout. Called only for a family that names a run."""
        raise NotImplementedError(f"{type(self).__name__} names a run in init_from() but adopts nothing from it")

    def eval_step(self, state, batch, mask):
        """Sums over the unmasked examples of one eval batch, a pytree of arrays of any shape.

        mask: [batch] float, 1 for real examples and 0 for padding. The evaluator adds the sums
        of every batch and hands the total to `eval_report`.
        """
        raise NotImplementedError

    def eval_report(self, sums) -> dict[str, float]:
        """The whole split's sums (NumPy) -> {metric name: float}, recorded as 'eval/<name>'."""
        raise NotImplementedError

    def pictures(self, state, batch, num_samples: int) -> dict[str, Any]:
        """{name: images} drawn at each eval from a few eval examples `batch`.

        images: [rows, columns, H, W, C] (a grid laid out as given) or [n, H, W, C] (a square
        grid), in [0, 1]. Default: no pictures.
        """
        del state, batch, num_samples
        return {}

    def diagnose(self, means: dict[str, float]) -> str | None:
        """A log window's train metrics {'train/<name>': mean} -> why training has failed, or None.

        Called at every log; a message stops the run with it, the window's steps and the last good
        checkpoint (before that step is saved). For failures the non-finite guard cannot see, e.g.
        a GAN's discriminator winning outright. Default: never.
        """
        del means
        return None

    def window_means(self, sums: dict, steps: int) -> dict[str, float]:
        """A log window's train metric sums over `steps` steps -> their per-step means: skipped steps
        are left out of every mean but those of `every_step_metrics`."""
        return means.window_means(sums, steps, every_step=self.every_step_metrics)

    def state_sharding(self, abstract_state, mesh):
        """How the state lies on `mesh`: a tree like `abstract_state` (its ShapeDtypeStructs) of
        NamedShardings. Default: every leaf replicated. A family may split a large table over the
        devices (skip-gram's embedding tables along the vocabulary); steps then run under sharded
        `jit` only, since `pmap` replicates the state."""
        return jax.tree.map(lambda _: parallel.replicated(mesh), abstract_state)

    def export(self, state, source, workdir: str) -> dict[str, float]:
        """Writes what a finished run leaves beside its checkpoints, and returns scalar measures of it.

        Called once a run has ended and its final checkpoint is saved, on process 0 only, with the
        state fetched to the host (NumPy leaves), the training split's source (its `metadata`: a
        corpus's vocabulary) and the workdir. The measures are recorded as 'export/<name>' beside
        the final eval. Default: nothing. Skip-gram writes `<workdir>/embeddings.txt`.
        """
        del state, source, workdir
        return {}

    def inference(self, state, mesh) -> "TrainedModel":
        """The trained model that `jaxae.load` returns, for this family (a `TrainedModel`)."""
        raise NotImplementedError(f"{type(self).__name__} offers no inference API yet")


def eval_fields_read(family, config, spec: dict) -> dict[str, str]:
    """{field name: kind} an eval reads from a split of `spec`: the family's (or trainer's)
    `eval_fields`, and those of its `optional_eval_fields` that the split holds."""
    optional = family.optional_eval_fields(config)
    return family.eval_fields(config) | {name: kind for name, kind in optional.items() if name in spec}


@dataclasses.dataclass(frozen=True)
class ExportedPart:
    """One pure function of a trained model, as `python -m jaxae.export` writes it (`TrainedModel.parts`).

    fn(*args, inputs) -> {name: [b, ...]}, the same function the model's call `call` maps over its
    batches: `inputs` holds [b, *shape] arrays of each input (the batch b symbolic in the artifact),
    but those named in `unbatched`, which are arrays of their shape (a seed). `outputs` are the
    results the artifact returns, in order.
    """

    call: str
    fn: Callable
    args: tuple
    inputs: dict[str, tuple[tuple[int, ...], str]]  # name -> (shape per example, dtype name)
    outputs: tuple[str, ...]
    unbatched: tuple[str, ...] = ()


def generator_part(generate, *args) -> ExportedPart:
    """The part of a model's `generate(num, seed)`, whose batches map generate(*args, key, batch):
    the artifact takes each draw's index [b] int32 and the seed (an int32 scalar), so
    `generate(n, seed)` equals it on (arange(n), seed)."""

    def seeded(*given):
        *args_of_generate, batch = given
        return generate(*args_of_generate, jax.random.PRNGKey(batch["seed"]), batch)

    return ExportedPart("generate", seeded, args, {"index": ((), "int32"), "seed": ((), "int32")}, ("image",),
                        unbatched=("seed",))


def checked_batch_size(batch_size) -> int:
    """`batch_size` as an int; DataError unless it is a positive integer."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise DataError(f"batch_size={batch_size!r} must be a positive integer")
    return int(batch_size)


class TrainedModel:
    """What `jaxae.load` returns (`Trainer.inference`): a family's trained model, over NumPy arrays.

    The protocol every family's model keeps, and all that tools (`python -m jaxae.encode`, `jaxae.plot`,
    `jaxae.export`, the estimators) may rely on (`parts` for the export):

      config, step, record: the run's config, the checkpoint's step, the run record (set by `jaxae.load`);
      input_fields: the arrays `encode_fields`, `scores_fields` and `predict_fields` take, in order (('image',)
        for images): the fields as the run's data set holds them (what `python -m jaxae.encode` reads
        from a split); `encode`, `scores` and `predict` take what a user holds, the same for every
        family but the tabular one, whose raw rows go through the run's column transform;
      offers: which of `OFFERS` this model has, each a method of that name;
      predicts: what `predict` gives ('clusters', 'classes') where the family predicts labels, else None;
      traversable: whether codes have a standard-normal prior, so moving one dimension by +-3 means something;
      batch_size: examples per batch of a call that maps over data (`jaxae.load`'s, default the run's
        eval batch); every such call also takes `batch_size=` for itself.
    """

    OFFERS = ("encode", "decode", "reconstruct", "scores", "log_likelihood", "predict", "predict_proba",
              "generate", "discriminate", "embeddings", "column_vectors")
    offers: frozenset = frozenset()
    input_fields: tuple[str, ...] = ("image",)
    predicts: str | None = None
    traversable: bool = False
    batch_size: int = 512

    def parts(self) -> dict[str, ExportedPart]:
        """{part name: ExportedPart}: the functions `python -m jaxae.export` writes (encoder, decoder,
        scorer, ...), each computing one of the model's calls; none where a family offers none."""
        return {}

    def field(self, name: str) -> tuple[tuple[int, ...], str]:
        """(shape per example, dtype name) of the run's data field `name`, as it travels to the devices."""
        field = specs.spec_from_json(self.record["data"]["spec"])[name]
        return field.shape, specs.stored_dtype(field.dtype).name

    def batch_of(self, batch_size: int | None) -> int:
        """Examples per batch of one call: `batch_size` where given, else the model's. It bounds what
        the call holds on the devices at a time (one batch's inputs, activations and outputs)."""
        return self.batch_size if batch_size is None else checked_batch_size(batch_size)

    def encode_fields(self, *fields, batch_size: int | None = None):
        """`encode` of the arrays of `input_fields`, as the run's data set holds them."""
        return self.encode(*fields, batch_size=batch_size)

    def scores_fields(self, *fields, batch_size: int | None = None):
        """`scores` of the arrays of `input_fields`, as the run's data set holds them."""
        return self.scores(*fields, batch_size=batch_size)

    def predict_fields(self, *fields, batch_size: int | None = None):
        """`predict` of the arrays of `input_fields`, as the run's data set holds them."""
        return self.predict(*fields, batch_size=batch_size)

    def offer(self, *names: str) -> None:
        """Adds `names` to this model's offers (a family whose calls depend on its config)."""
        unknown = set(names) - set(self.OFFERS)
        if unknown:
            raise ValueError(f"{sorted(unknown)} are not calls of the TrainedModel protocol {self.OFFERS}")
        self.offers = frozenset(self.offers) | set(names)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        unknown = set(cls.offers) - set(cls.OFFERS)
        missing = [name for name in cls.offers if not callable(getattr(cls, name, None))]
        if unknown or missing:
            raise TypeError(f"{cls.__name__} offers {sorted(unknown)} outside the protocol, or lacks {missing}")
