"""The classifier family: classification with few labels, the encoder of an autoencoder as its first
layers.

A classifier is the autoencoder's encoder (images -> code) followed by a dense head (code ->
class logits). Only `classifier.num_labels` training examples keep their labels, drawn class by
class when the run starts (`jaxae.data.labels.balanced_draw`, seeded by `classifier.label_seed`, so the
seeds of `num_seeds` > 1 share one labelled set); the rest of the training split is unlabelled.
`classifier.mode` says how the unlabelled images are used:

  scratch      not at all: encoder and head trained from random weights on the labelled examples;
  frozen       the autoencoder is pretrained on all training images, then only the head is trained
               (a probe on the codes, learnt by gradient descent);
  finetune     pretrained likewise, then encoder and head trained together (the decoder is left as
               pretrained; from scratch, as initialised);
  regularised  encoder, decoder and head trained together from random weights on the labelled
               examples' cross-entropy plus `classifier.reconstruction_weight` times the
               autoencoder's loss on batches of all training images (Le et al., 2018).

The labelled examples (raw images [num_labels, H, W, C] and labels [num_labels]) live in the train
state, so each step draws its labelled batch from them, example by example from the step's key (any
number of devices draws the same global batch), and a resumed run continues with the same ones. The
state:

  params:    {'autoencoder': the autoencoder's parameters, 'head': the head's}
  opt_state: {'pretrain': config.optimizer's, for params['autoencoder'],
              'classify': classifier.optimizer's, for what the mode trains (`trainable`)}
  extra:     {'images', 'labels'}: the labelled examples

The training split must have labels (the draw reads them from it), but steps never read a batch's
labels: a step's labels are those of the labelled examples it draws.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxae import losses
from jaxae.config import checks
from jaxae.data import pipeline
from jaxae.data.labels import balanced_draw
from jaxae.data.transforms import random_shift
from jaxae.errors import ConfigError, DataError
from jaxae.metrics.means import masked_sums, means
from jaxae.models import COMPUTE_DTYPES, MLPEncoder
from jaxae.steps import optimizers, rng
from jaxae.steps.train_state import TrainState
from jaxae.trainers.base import Phase, Trainer
from jaxae.trainers.parts.autoencoder import SHIFT_STREAM, AutoencoderCore

MODES = ("scratch", "frozen", "finetune", "regularised")
PRETRAINED = ("frozen", "finetune")  # The modes that pretrain the autoencoder first.
LABELLED_STREAM = 2**32 - 4  # Folded into a step's key for its labelled batch, apart from its image stream.


class ClassifierTrainer(Trainer):
    """An encoder and a dense head, trained on a few labels; see the module docstring for the modes.
    `ae` is the autoencoder core whose encoder the head sits on."""

    @classmethod
    def validate_config(cls, config) -> None:
        AutoencoderCore.refuse_importance_weighting(config)
        super().validate_config(config)  # The classifying phase's length.
        AutoencoderCore.validate_config(config)
        if config.compute_dtype == "float16":
            raise ConfigError("compute_dtype='float16' (loss scaling) is not offered for the classifier; use "
                              "'bfloat16' or 'float32'")
        checks.choice(config, "classifier.mode", MODES)
        checks.number(config, "classifier.num_classes", low=2, integer=True)
        checks.number(config, "classifier.num_labels", low=config.classifier.num_classes, integer=True)
        checks.number(config, "classifier.label_seed", low=0, integer=True)
        checks.widths(config, "classifier.head_hidden", allow_empty=True)
        checks.number(config, "classifier.reconstruction_weight", low=0)
        checks.boolean(config, "classifier.augment")
        checks.number(config, "pretrain.num_epochs", low=0, integer=True)
        checks.number(config, "pretrain.num_steps", low=0, integer=True)
        if config.classifier.mode in PRETRAINED and not (config.pretrain.num_epochs or config.pretrain.num_steps):
            raise ConfigError(f"classifier.mode={config.classifier.mode!r} pretrains the autoencoder first: set "
                              "pretrain.num_epochs or pretrain.num_steps above 0")
        optimizers.validate(config, "classifier.optimizer")

    @classmethod
    def train_fields(cls, config) -> dict[str, str]:
        return {"image": "image", "label": "label"}

    def __init__(self, config, spec, num_examples: int, *, axis_name=None):
        super().__init__(config, spec, num_examples, axis_name=axis_name)
        settings = config.classifier
        self.mode, self.num_classes, self.num_labels = settings.mode, settings.num_classes, settings.num_labels
        known = spec["label"].vocab_size
        if known is not None and known > self.num_classes:
            raise ConfigError(f"classifier.num_classes={self.num_classes} but the data's labels have {known} classes")
        if self.num_labels > num_examples:
            raise ConfigError(f"classifier.num_labels={self.num_labels} is more than the {num_examples} training "
                              "examples")
        self.image_dtype = spec["image"].dtype
        # The head is a dense stack on the code [batch, latent] (MLPEncoder flattens whatever it is given).
        self.head = MLPEncoder(hidden=tuple(settings.head_hidden), features=self.num_classes,
                               activation=config.model.activation, dtype=COMPUTE_DTYPES[config.compute_dtype],
                               weight_init=config.model.weight_init)
        self.ae = AutoencoderCore(config, spec["image"].shape, optimizer_steps=self.pretrain_steps, axis_name=axis_name)
        self.classify_tx = optimizers.build_optimizer(settings.optimizer, self.classify_steps)

    def check_data(self, source) -> None:
        self.ae.check_data(source)

    def label_classes(self):
        return self.num_classes, f"classifier.num_classes={self.num_classes}"

    def identity(self):
        fields = self.ae.objective_fields() + [
            "classifier.mode", "classifier.num_classes", "classifier.num_labels", "classifier.label_seed",
            "classifier.head_hidden", "classifier.reconstruction_weight"]
        if self.config.data.augment_shift:
            fields.append("classifier.augment")
        return (self.identity_of(*fields) | optimizers.identity(self.config, self.pretrain_steps)
                | optimizers.identity(self.config, self.classify_steps, "classifier.optimizer")
                | {"pretrain_steps": self.pretrain_steps})

    @property
    def pretrain_steps(self) -> int:
        if self.mode not in PRETRAINED:
            return 0
        return self.epochs_or_steps("pretrain.num_epochs", "pretrain.num_steps")

    @property
    def classify_steps(self) -> int:
        return self.epochs_or_steps()

    def phases(self):
        """`pretrain` (frozen, finetune) and `classify`; the first starts with the draw of the labelled
        examples, so a split too small for it fails before any training."""
        if not self.pretrain_steps:
            return (Phase("classify", self.classify_steps, self.classify_step, on_start=self.draw_labelled),)
        return (Phase("pretrain", self.pretrain_steps, self.ae.pretrain_step, on_start=self.draw_labelled),
                Phase("classify", self.classify_steps, self.classify_step))

    # ------------------------------------------------------------------ state

    def init(self, key) -> TrainState:
        model_key, head_key, state_key = jax.random.split(key, 3)
        autoencoder = self.ae.init_params(model_key)
        head = self.head.init(head_key, jnp.zeros((1, self.config.model.latent_dim), jnp.float32))["params"]
        params = {"autoencoder": autoencoder, "head": head}
        labelled = {"images": jnp.zeros((self.num_labels, *self.ae.image_shape), self.image_dtype),
                    "labels": jnp.zeros((self.num_labels,), jnp.int32)}
        return TrainState(step=jnp.zeros((), jnp.int32), key=state_key, params=params,
                          opt_state={"pretrain": self.ae.tx.init(autoencoder),
                                     "classify": self.classify_tx.init(self.trainable(params))},
                          extra=labelled)

    def trainable(self, params) -> dict:
        """What the classifying phase trains: {'head'} when frozen, {'encoder', 'head'} from scratch
        or fine-tuned, and all of params, decoder included, when regularised."""
        if self.mode == "regularised":
            return params
        return {"head": params["head"]} | ({} if self.mode == "frozen" else {"encoder": params["autoencoder"]["encoder"]})

    @staticmethod
    def with_trainable(params, trainable) -> dict:
        """params with the parts in `trainable` (as `trainable` gives them) replaced."""
        params = {**params, "head": trainable["head"]}
        if "encoder" in trainable:
            params["autoencoder"] = {**params["autoencoder"], "encoder": trainable["encoder"]}
        return params | ({"autoencoder": trainable["autoencoder"]} if "autoencoder" in trainable else {})

    def draw_labelled(self, state: TrainState, split):
        """Hook at the first phase's start: the class-balanced labelled examples into the state."""
        everything = np.arange(len(split))
        labels = pipeline.read_batch(split.source, everything, ["label"])["label"]
        try:
            chosen = balanced_draw(labels, self.num_labels, self.config.classifier.label_seed, self.num_classes)
        except DataError as error:
            raise DataError(f"{split.source.where}: {error} (classifier.num_labels={self.num_labels}, "
                            f"classifier.num_classes={self.num_classes})") from None
        labelled = pipeline.read_batch(split.source, chosen, ["image", "label"])
        extra = {"images": jnp.asarray(labelled["image"], self.image_dtype),
                 "labels": jnp.asarray(labelled["label"], jnp.int32)}
        return state.replace(extra=extra), {"labelled": len(chosen),
                                            "classes": len(np.unique(labelled["label"]))}

    # ------------------------------------------------------------------ steps

    def logits(self, params, x):
        """Inputs x [batch, H, W, C] in [0, 1] -> class logits [batch, num_classes]."""
        logits = self.head.apply({"params": params["head"]}, self.ae.code_of(params["autoencoder"], x))
        return logits.astype(jnp.float32)  # The softmax in float32 under bfloat16 compute.

    def labelled_batch(self, state: TrainState, batch_size: int):
        """(inputs [batch, H, W, C], labels [batch]) drawn with replacement from the labelled
        examples, each from its own key, so every device takes its slice of one global batch."""
        keys = rng.example_keys(jax.random.fold_in(jax.random.fold_in(state.key, state.step), LABELLED_STREAM),
                                batch_size, rng.batch_offset(batch_size, self.axis_name))
        pick_keys, binarize_keys = rng.split_streams(keys, 2)
        picks = jax.vmap(lambda key: jax.random.randint(key, (), 0, self.num_labels))(pick_keys)
        inputs = self.ae.model_inputs(state.extra["images"][picks], binarize_keys)
        if self.config.classifier.augment and self.config.data.augment_shift:
            shift_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(keys, SHIFT_STREAM)
            inputs = rng.per_example(lambda k, x: random_shift(k, x, max_shift=self.config.data.augment_shift),
                                     shift_keys, inputs)
        return inputs, state.extra["labels"][picks]

    def classify_step(self, state: TrainState, batch):
        """One update of the classifier on a labelled batch as large as `batch` (and, when
        regularised, of the autoencoder's loss on `batch`'s images, unlabelled)."""
        inputs, labels = self.labelled_batch(state, batch["image"].shape[0])
        weight = self.config.classifier.reconstruction_weight
        if self.mode == "regularised":
            targets, noisy, eps = self.ae.train_inputs(state, batch["image"])

        def loss_fn(trainable):
            params = self.with_trainable(state.params, trainable)
            logits = self.logits(params, inputs)
            cross_entropy = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))
            metrics = {"cross_entropy": cross_entropy,
                       "accuracy": jnp.mean((jnp.argmax(logits, axis=-1) == labels).astype(jnp.float32))}
            loss = cross_entropy
            if self.mode == "regularised":
                autoencoder_loss, _ = self.ae.loss_fn(params["autoencoder"], targets, noisy, eps, state.step)
                metrics["autoencoder_loss"] = autoencoder_loss
                loss = loss + weight * autoencoder_loss
            return loss, ({**metrics, "loss": loss}, None)

        trainable, opt_state, metrics, _ = self.gradient_step(self.classify_tx, self.trainable(state.params),
                                                              state.opt_state["classify"], loss_fn)
        return state.replace(step=state.step + 1, params=self.with_trainable(state.params, trainable),
                             opt_state={**state.opt_state, "classify": opt_state}), metrics

    # ------------------------------------------------------------------ evaluation

    def eval_step(self, state: TrainState, batch, mask):
        """Sums of each eval example's correctness, cross-entropy and reconstruction error, and the count."""
        self.ae.check_images(batch["image"])
        targets, codes, reconstruction = self.ae.clean_pass(state, batch)
        logits = self.head.apply({"params": state.params["head"]}, codes).astype(jnp.float32)
        labels = batch["label"].astype(jnp.int32)
        per_example = {"accuracy": (jnp.argmax(logits, axis=-1) == labels).astype(jnp.float32),
                       "cross_entropy": optax.softmax_cross_entropy_with_integer_labels(logits, labels),
                       "mse": losses.mse(reconstruction, targets)}
        return masked_sums(per_example, mask)

    def eval_report(self, sums) -> dict[str, float]:
        """Means per eval example: 'accuracy' and 'cross_entropy' of the classifier (the head is
        untrained before the classifying phase), and 'mse' of the autoencoder's reconstruction
        (meaningless from scratch, whose decoder is never trained). Eval labels must lie below
        `classifier.num_classes`."""
        return means(sums)

    def pictures(self, state: TrainState, batch, num_samples: int):
        """A few eval images over their reconstructions [2, n, H, W, C]."""
        del num_samples
        targets, _, reconstruction = self.ae.clean_pass(state, batch)
        return {"reconstructions": jnp.stack([targets, reconstruction])}

    def inference(self, state, mesh):
        from jaxae.trainers.classifier.inference import TrainedClassifier

        return TrainedClassifier(self, state, mesh)
