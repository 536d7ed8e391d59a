"""Skip-gram with negative sampling (word2vec; Mikolov et al., 2013) over a corpus's chunks.

A batch holds chunks of the token stream (`jaxae.data.corpus`: 'tokens' and 'segment'). Each step
draws word2vec's training pairs from them on the device (`jaxae.data.skipgram`: subsampling, a
dynamic window, k negatives per centre word, or per pair with `sgns.shared_negatives=False`) and
takes one plain SGD step on the *sum* of the pairs' losses (`losses.skipgram_negative_sampling`),
as word2vec's per-pair updates add up, with its learning rate falling linearly from
`sgns.learning_rate` to `sgns.final_learning_rate`. Where a row is used more than
`sgns.max_summed_uses` times in one batch, its summed gradient is scaled down (`row_scale`).

The state holds two tables [rows, d]: 'input' (the word vectors written out, starting uniform in
+-0.5/d as in word2vec) and 'output' (starting at zero). `sgns.updates` chooses how a step changes
them: 'rows' adds each gathered row's gradient into its table (touching only the rows a batch
uses; under pmap each device adds its rows into a zero table, which one all-reduce sums, so the
replicas stay equal), 'dense' takes the gradient of whole tables. `sgns.tables='sharded'` splits both tables'
rows over the mesh's devices (the vocabulary axis), for vocabularies too large to replicate;
'replicated' keeps a copy on every device. The start hook counts the words of the training split
and stores word2vec's keep probabilities and the negatives' cumulative table in the state.

Evaluation reports the mean pair loss over the eval split with fixed draws; a finished run writes
its input vectors to `<workdir>/embeddings.txt` (word2vec's text format) and scores them on
WordSim-353, SimLex-999 and the analogy questions when gensim is installed (`export/...`).
"""

from __future__ import annotations

import functools
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from jaxae import losses
from jaxae.config import checks
from jaxae.data import corpus, host, skipgram
from jaxae.devices import parallel
from jaxae.errors import ConfigError, DataError, writing
from jaxae.steps import rng
from jaxae.steps.train_state import TrainState
from jaxae.steps.updates import skip_unless_finite
from jaxae.trainers.base import Phase, Trainer

UPDATES = ("rows", "dense")
TABLES = ("replicated", "sharded")
EMBEDDINGS_FILE = "embeddings.txt"
SHARDED_ROWS_MULTIPLE = 1024  # Split tables have a multiple of this many rows: any power-of-two device count up to it.


class SkipGramTrainer(Trainer):
    """Trains skip-gram tables on the config's `model.embedding_dim` and `sgns` section."""

    early_stopping_refused = "its eval scores the corpus it trains on"

    exported_files = (EMBEDDINGS_FILE,)

    guarded_metrics = ("loss",)

    @classmethod
    def validate_config(cls, config) -> None:
        super().validate_config(config)
        corpus.validate_options(config)  # The data set's options: the corpus this family reads.
        checks.number(config, "model.embedding_dim", low=1, integer=True)
        checks.number(config, "sgns.window", low=1, integer=True)
        checks.number(config, "sgns.negatives", low=1, integer=True)
        checks.number(config, "sgns.sample", low=0, high=1)
        checks.number(config, "sgns.learning_rate", low=0, low_open=True)
        checks.number(config, "sgns.final_learning_rate", low=0, high=config.sgns.learning_rate)
        checks.choice(config, "sgns.updates", UPDATES)
        checks.number(config, "sgns.max_summed_uses", low=0)
        checks.boolean(config, "sgns.shared_negatives")
        checks.choice(config, "sgns.tables", TABLES)
        if config.sgns.tables == "sharded" and config.parallel.mode == "pmap":
            raise ConfigError("sgns.tables='sharded' needs parallel.mode='jit': pmap keeps a whole state on every device")
        if config.get("num_seeds", 1) > 1:
            raise ConfigError(f"num_seeds={config.num_seeds}: skip-gram trains one seed per run")

    @classmethod
    def train_fields(cls, config) -> dict[str, str]:
        return {"tokens": "ids", "segment": "ids"}

    def __init__(self, config, spec, num_examples: int, *, axis_name=None):
        super().__init__(config, spec, num_examples, axis_name=axis_name)
        if spec["tokens"].vocab_size is None or len(spec["tokens"].shape) != 1 or spec["segment"].shape != spec["tokens"].shape:
            raise DataError(f"skip-gram needs 'tokens' (ids with a known vocabulary) and 'segment' as [chunk_length] "
                            f"alike; they are {spec['tokens']} and {spec['segment']}")
        self.vocab_size = spec["tokens"].vocab_size
        self.dim = config.model.embedding_dim
        self.window, self.negatives = config.sgns.window, config.sgns.negatives
        # Sharded tables get rows for up to SHARDED_ROWS_MULTIPLE devices whatever the run's count, so a
        # checkpoint resumes on another count; the extra rows are never drawn or written out.
        self.table_rows = (self.vocab_size if config.sgns.tables == "replicated"
                           else -(-self.vocab_size // SHARDED_ROWS_MULTIPLE) * SHARDED_ROWS_MULTIPLE)

    def identity(self):
        return self.identity_of("model.embedding_dim", "sgns.window", "sgns.negatives", "sgns.sample", "sgns.updates",
                                "sgns.shared_negatives", "sgns.tables")

    def phases(self):
        """One phase; its start counts the words of the training split."""
        return (Phase("train", self.epochs_or_steps(), self.train_step, on_start=self.count_words),)

    def init(self, key) -> TrainState:
        table_key, state_key = jax.random.split(key)
        # Row by row, so a row's start does not depend on how many rows the table has (sharding pads it).
        rows = rng.keys_for(table_key, jnp.arange(self.table_rows))
        scale = 0.5 / self.dim
        params = {"input": jax.vmap(lambda k: jax.random.uniform(k, (self.dim,), jnp.float32, -scale, scale))(rows),
                  "output": jnp.zeros((self.table_rows, self.dim), jnp.float32)}
        extra = {"keep_probability": jnp.ones(self.vocab_size, jnp.float32),
                 "negative_table": jnp.zeros(self.vocab_size, jnp.int32)}
        return TrainState(step=jnp.zeros((), jnp.int32), key=state_key, params=params, opt_state=(), extra=extra)

    def state_sharding(self, abstract_state, mesh):
        shardings = super().state_sharding(abstract_state, mesh)
        if self.config.sgns.tables == "sharded":
            if self.table_rows % mesh.devices.size:
                raise ConfigError(f"sgns.tables='sharded': the tables' {self.table_rows} rows do not split over "
                                  f"{mesh.devices.size} devices; use a device count that divides "
                                  f"{SHARDED_ROWS_MULTIPLE} (parallel.num_devices)")
            rows = NamedSharding(mesh, P(parallel.DATA_AXIS, None))
            shardings = shardings.replace(params={"input": rows, "output": rows})
        return shardings

    def count_words(self, state: TrainState, split):
        """Start hook: each word's count in the training split -> word2vec's keep probabilities
        (`corpus.keep_probabilities`) and the negatives' table (`corpus.negative_table`)."""
        chunks = host.read_all(split.source, ["tokens", "segment"])
        counts = np.bincount(chunks["tokens"][chunks["segment"] > 0], minlength=self.vocab_size)
        if not counts.any():
            raise DataError(f"{split.source.where} holds no words")
        extra = {"keep_probability": jnp.asarray(corpus.keep_probabilities(counts, self.config.sgns.sample), jnp.float32),
                 "negative_table": jnp.asarray(corpus.negative_table(counts))}
        return state.replace(extra=extra), {"words": int(counts.sum()), "unseen_words": int(np.sum(counts == 0))}

    def learning_rate(self, step):
        """word2vec's schedule: linear from learning_rate at step 0 to final_learning_rate at the end."""
        start, end = self.config.sgns.learning_rate, self.config.sgns.final_learning_rate
        return start + (end - start) * jnp.minimum(step / max(self.num_steps, 1), 1.0)

    def pairs(self, state: TrainState, batch, keys):
        """The batch's training pairs (`skipgram.chunk_pairs`), chunk i drawn by keys[i]."""
        draw = functools.partial(skipgram.chunk_pairs, window=self.window, negatives=self.negatives,
                                 shared_negatives=self.config.sgns.shared_negatives)
        return jax.vmap(draw, in_axes=(0, 0, 0, None, None))(keys, batch["tokens"], batch["segment"],
                                                              state.extra["keep_probability"], state.extra["negative_table"])

    def pair_loss_sum(self, rows, pairs):
        """The sum of the pairs' losses, from each position's table rows:
        rows {'input', 'output' [batch, length, d], 'negative' [batch, length, 2w, k, d] ([..., k, d] when shared)}."""
        contexts = jax.vmap(skipgram.gather_offsets, in_axes=(0, None))(rows["input"], self.window)
        per_pair = losses.skipgram_negative_sampling(contexts, rows["output"], rows["negative"], pairs["negative_weight"])
        return jnp.sum(per_pair * pairs["pair"])

    @staticmethod
    def row_ids(pairs):
        """Which table row each gathered row is: {'input', 'output': [batch, length], 'negative'}."""
        return {"input": pairs["tokens"], "output": pairs["tokens"], "negative": pairs["negative"]}

    def gather(self, params, pairs):
        ids = self.row_ids(pairs)
        return {"input": params["input"][ids["input"]], "output": params["output"][ids["output"]],
                "negative": params["output"][ids["negative"]]}

    def train_step(self, state: TrainState, batch):
        size = batch["tokens"].shape[0]
        keys = rng.example_keys(jax.random.fold_in(state.key, state.step), size, rng.batch_offset(size, self.axis_name))
        pairs = self.pairs(state, batch, keys)
        rate = self.learning_rate(state.step)
        scale = self.row_scale(pairs)
        if self.config.sgns.updates == "dense":
            loss, grads = jax.value_and_grad(lambda p: self.pair_loss_sum(self.gather(p, pairs), pairs))(state.params)
            if self.axis_name is not None:
                grads = jax.lax.psum(grads, self.axis_name)
            params = jax.tree.map(lambda table, grad, s: table - rate * s[:, None] * grad, state.params, grads, scale)
        else:
            loss, grads = jax.value_and_grad(self.pair_loss_sum)(self.gather(state.params, pairs), pairs)
            ids = self.row_ids(pairs)
            table_of = {"input": "input", "output": "output", "negative": "output"}
            updates = {name: -rate * scale[table_of[name]][ids[name]][..., None] * grad for name, grad in grads.items()}
            if self.axis_name is None:
                params = self.add_rows(state.params, ids, updates)
            else:  # Each device adds its own rows into a zero table, then one all-reduce: replicas stay equal.
                local = self.add_rows(jax.tree.map(jnp.zeros_like, state.params), ids, updates)
                params = jax.tree.map(jnp.add, state.params, jax.lax.psum(local, self.axis_name))
        count = jnp.sum(pairs["pair"])
        if self.axis_name is not None:
            loss, count = jax.lax.psum((loss, count), self.axis_name)
        finite = jnp.isfinite(loss)
        metrics = {"loss": loss / jnp.maximum(count, 1), "pairs": count, "learning_rate": rate}
        if self.config.nonfinite == "skip":  # Keep the tables of the last finite step, as every family does.
            params, metrics = skip_unless_finite(finite, params, state.params, metrics)
        else:
            metrics["skipped"] = 1.0 - finite.astype(jnp.float32)
        return state.replace(step=state.step + 1, params=params), metrics

    def row_scale(self, pairs):
        """{'input', 'output'}: [rows] float32, the factor on each table row's summed gradient.

        word2vec applies a row's gradients one pair at a time, so a row used thousands of times in
        one batch (a frequent word drawn as a negative) never takes thousands of steps at once; the
        sum of a large batch would, and diverges. A row used more than `sgns.max_summed_uses` times
        in the (global) batch is scaled to that many average uses; rarer rows take the plain sum.
        0 turns the cap off.
        """
        cap = self.config.sgns.max_summed_uses
        negative_uses = pairs["negative_weight"]
        if pairs["negative"].ndim != negative_uses.ndim:  # Shared negatives: each is used by its centre's pairs.
            negative_uses = jnp.sum(negative_uses, axis=-2)
        count = lambda ids, weights: jax.ops.segment_sum(weights.reshape(-1), ids.reshape(-1), self.table_rows)
        as_context = jax.vmap(skipgram.scatter_offsets, in_axes=(0, None))(pairs["pair"], self.window)
        uses = {"input": count(pairs["tokens"], as_context),
                "output": count(pairs["tokens"], jnp.sum(pairs["pair"], axis=-1)) + count(pairs["negative"], negative_uses)}
        if self.axis_name is not None:
            uses = jax.lax.psum(uses, self.axis_name)
        if cap == 0:
            return jax.tree.map(jnp.ones_like, uses)
        return jax.tree.map(lambda n: 1.0 / jnp.maximum(1.0, n / cap), uses)

    def add_rows(self, params, ids, updates):
        """Adds each row update [..., d] into its table row (`row_ids`): only those rows change."""
        flat = lambda x: x.reshape(-1, self.dim)
        output = params["output"].at[ids["output"].reshape(-1)].add(flat(updates["output"]))
        output = output.at[ids["negative"].reshape(-1)].add(flat(updates["negative"]))
        return {"input": params["input"].at[ids["input"].reshape(-1)].add(flat(updates["input"])), "output": output}

    def eval_step(self, state: TrainState, batch, mask):
        # Fixed draws per chunk: every eval scores the same pairs.
        pairs = self.pairs(state, batch, rng.keys_for(jax.random.fold_in(state.key, rng.EVAL_STREAM), batch["index"]))
        pairs["pair"] = pairs["pair"] * mask[:, None, None]
        return {"loss": self.pair_loss_sum(self.gather(state.params, pairs), pairs), "pairs": jnp.sum(pairs["pair"])}

    def eval_report(self, sums) -> dict[str, float]:
        return {"loss": float(sums["loss"] / max(float(sums["pairs"]), 1.0))}

    def words(self, source) -> list[str]:
        """The vocabulary's words from the source's metadata, else 'w<id>' names."""
        words = getattr(source, "metadata", {}).get("words")
        return list(words) if words is not None and len(words) == self.vocab_size else [f"w{i}" for i in range(self.vocab_size)]

    def export(self, state, source, workdir: str) -> dict[str, float]:
        """Writes the input vectors as `<workdir>/embeddings.txt`; with gensim installed and a
        vocabulary of words, their scores on WordSim-353, SimLex-999 and the analogies."""
        from jaxae.embeddings import Embeddings

        embeddings = Embeddings(self.words(source), np.asarray(state.params["input"])[: self.vocab_size])
        path = os.path.join(workdir, EMBEDDINGS_FILE)
        with writing(path):
            embeddings.save_word2vec_format(path)
        if "words" not in getattr(source, "metadata", {}):
            return {}
        from jaxae.metrics import word_benchmarks

        try:
            measures = word_benchmarks.evaluate_on_gensim_benchmarks(embeddings)
        except DataError:  # gensim is absent, or no benchmark pair is in this vocabulary.
            return {}
        return {name: value for name, value in measures.items() if math.isfinite(value)}

    def inference(self, state, mesh):
        from jaxae.trainers.sgns.inference import TrainedSkipGram

        return TrainedSkipGram(self, state)
