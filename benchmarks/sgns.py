"""Skip-gram with negative sampling: jaxae against gensim's `Word2Vec`, same corpus and settings.

  pip install -e '.[text]'   # gensim: the corpus, the benchmark files and the peer
  python -m benchmarks.sgns --seeds 3 --out docs/sgns_wiki.json
  python -m benchmarks.sgns --step_profile --out docs/sgns_step.json   # one step and its parts

The corpus is gensim's shortened English Wikipedia extract plus the Lee corpus (`gensim-wiki`,
511,096 tokens, 9,733 words at min_count 5). Each setting trains `configs/sgns_wiki.py` (with the
setting's fields) and gensim's skip-gram (`sg=1`, `hs=0`, the same dimensions, window, negatives,
sample, learning rates, min_count and epochs, `workers=2`) on the same documents, cut into pieces
of at most 10,000 words, gensim's sentence limit, so it drops none. Both are scored by
`jaxae.metrics.word_benchmarks` (which `tests/test_word_benchmarks.py` checks equal gensim's own
evaluate_word_pairs / evaluate_word_analogies). Words per second count the corpus's tokens times
the epochs over the wall time of the whole training call (jaxae: `loop.run`, data preparation and
compilation included; gensim: `Word2Vec(...)`, its vocabulary scan included). The runs alternate
between the two, seed by seed, so a noisy host slows both alike.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

from benchmarks.measure import add_run_arguments, matmul_gflops, publish

# name -> config fields; REFERENCES.md §1.6 has gensim's figures for both.
SETTINGS = {
    "w5 neg5 sample1e-3": {},
    "w10 neg10 sample1e-4": {"sgns.window": 10, "sgns.negatives": 10, "sgns.sample": 1e-4},
}
GENSIM_SENTENCE_LIMIT = 10_000
MEASURES = ("ws353_spearman", "simlex_spearman", "analogy_accuracy")


def sgns_config(fields: dict, seed: int, smoke: bool, data_dir: str):
    from configs import sgns_wiki

    config = sgns_wiki.get_config("tiny" if smoke else "")
    config.seed, config.data.tfds_data_dir = seed, data_dir
    if smoke:
        config.data.corpus.source = "gensim-lee"
    for field, value in fields.items():
        section, name = field.split(".")
        config[section][name] = value
    return config


def jaxae_run(setting: str, fields: dict, seed: int, smoke: bool, root: str) -> dict:
    from jaxae.engine import loop

    config = sgns_config(fields, seed, smoke, os.path.join(root, "tfds"))
    start = time.perf_counter()
    result = loop.run(config, os.path.join(root, f"{setting.replace(' ', '_')}_seed{seed}"))
    seconds = time.perf_counter() - start
    measures = {name: result.eval_metrics[f"export/{name}"] for name in MEASURES}
    return measures | {"seconds": seconds, "epochs": result.step / max(1, _steps_per_epoch(config))}


def _steps_per_epoch(config) -> int:
    """Batches of an epoch of the prepared corpus (opening it reads only its metadata)."""
    from jaxae.data import sources

    return len(sources.open_tfds("corpus", "train", config.data.tfds_data_dir, config.data)) // config.batch_size


def gensim_run(documents, config, seed: int, epochs: float) -> dict:
    from gensim.models import Word2Vec

    from jaxae.embeddings import Embeddings
    from jaxae.metrics.word_benchmarks import evaluate_on_gensim_benchmarks

    pieces = [doc[i:i + GENSIM_SENTENCE_LIMIT] for doc in documents for i in range(0, len(doc), GENSIM_SENTENCE_LIMIT)]
    start = time.perf_counter()
    model = Word2Vec(pieces, sg=1, hs=0, vector_size=config.model.embedding_dim, window=config.sgns.window,
                     negative=config.sgns.negatives, sample=config.sgns.sample, alpha=config.sgns.learning_rate,
                     min_alpha=config.sgns.final_learning_rate, min_count=config.data.corpus.min_count,
                     epochs=max(1, round(epochs)), workers=2, seed=seed)
    seconds = time.perf_counter() - start
    embeddings = Embeddings(model.wv.index_to_key, model.wv.vectors)
    measures = evaluate_on_gensim_benchmarks(embeddings)
    return {name: measures[name] for name in MEASURES} | {"seconds": seconds, "epochs": float(max(1, round(epochs)))}


def step_profile(data_dir: str, repeats: int = 10) -> dict:
    """Milliseconds of one step on 8 chunks of the corpus and of its parts, jitted, for each way of
    drawing negatives and of updating: {'shared rows': {'pairs': ms, ...}, ...}."""
    import jax

    from benchmarks.measure import median_seconds
    from jaxae.data import host, sources
    from jaxae.trainers.sgns.trainer import SkipGramTrainer

    profile = {}
    for shared in (True, False):
        for updates in ("rows", "dense"):
            config = sgns_config({"sgns.shared_negatives": shared, "sgns.updates": updates}, 0, False, data_dir)
            source = sources.open_tfds("corpus", "train", data_dir, config.data)
            trainer = SkipGramTrainer(config, source.spec, len(source))
            state, _ = trainer.count_words(trainer.init(jax.random.PRNGKey(0)), type("Split", (), {"source": source}))
            chunks = host.read_all(source, ["tokens", "segment"])
            batch = {name: values[: config.batch_size] for name, values in chunks.items()}
            batch["index"] = np.arange(config.batch_size, dtype=np.int32)
            keys = jax.random.split(jax.random.PRNGKey(1), config.batch_size)
            pairs = jax.jit(trainer.pairs)(state, batch, keys)
            rows = jax.jit(trainer.gather)(state.params, pairs)
            parts = {"pairs": (trainer.pairs, state, batch, keys), "gather rows": (trainer.gather, state.params, pairs),
                     "loss": (trainer.pair_loss_sum, rows, pairs),
                     "loss and gradient": (jax.grad(trainer.pair_loss_sum), rows, pairs),
                     "row scale": (trainer.row_scale, pairs), "whole step": (trainer.train_step, state, batch)}
            row = {}
            for name, (fn, *args) in parts.items():
                jitted = jax.jit(fn)
                seconds, _ = median_seconds(lambda: jax.block_until_ready(jitted(*args)), repeats=repeats)
                row[name] = 1e3 * seconds
            row["words_per_second"] = config.batch_size * config.data.corpus.chunk_length / (row["whole step"] / 1e3)
            profile[f"{'shared' if shared else 'per-pair'} negatives, {updates} updates"] = row
            print(profile, flush=True)
    return profile


def summary(runs: list[dict], tokens: int) -> dict:
    row = {}
    for name in MEASURES:
        values = [run[name] for run in runs]
        row[name] = {"mean": float(np.mean(values)), "std": float(np.std(values)), "values": values}
    rates = [tokens * run["epochs"] / run["seconds"] for run in runs]
    return row | {"words_per_second": float(np.mean(rates)), "seconds": [run["seconds"] for run in runs]}


def markdown(report: dict) -> str:
    lines = ["| setting | trainer | WordSim-353 Spearman | SimLex-999 Spearman | analogies | words/s |",
             "|---|---|---|---|---|---|"]
    for setting, trainers in report["settings"].items():
        for trainer, row in trainers.items():
            cells = [f"{row[name]['mean']:.3f} +- {row[name]['std']:.3f}" for name in MEASURES[:2]]
            cells.append(f"{100 * row['analogy_accuracy']['mean']:.1f} +- {100 * row['analogy_accuracy']['std']:.1f} %")
            lines.append(f"| {setting} | {trainer} | {' | '.join(cells)} | {row['words_per_second']:,.0f} |")
    return "\n".join(lines)


def profile_markdown(report: dict) -> str:
    rows = report["milliseconds"]
    parts = [name for name in next(iter(rows.values())) if name != "words_per_second"]
    lines = ["| step on 8 chunks (8,192 words) | " + " | ".join(f"{part} (ms)" for part in parts) + " | words/s |",
             "|---" * (len(parts) + 2) + "|"]
    for name, row in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{row[part]:.1f}" for part in parts) + f" | {row['words_per_second']:,.0f} |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--settings", default=",".join(SETTINGS), help="comma-separated names of SETTINGS")
    parser.add_argument("--step_profile", action="store_true",
                        help="time one step on 8 chunks and its parts, per way of drawing negatives and updating")
    add_run_arguments(parser)
    args = parser.parse_args(argv)
    from jaxae.data import corpus

    root = args.workdir or tempfile.mkdtemp(prefix="jaxae-sgns-")
    if args.step_profile:
        report = {"milliseconds": step_profile(os.path.join(root, "tfds")), "host_matmul_gflops": matmul_gflops()}
        return publish(report, profile_markdown(report), args.out, corpus=corpus.GENSIM_WIKI)
    settings = {}
    for setting in args.settings.split(","):
        fields = SETTINGS[setting] | ({"sgns.negatives": 2} if args.smoke else {})
        config = sgns_config(fields, 0, args.smoke, "")
        documents = corpus.read_documents(config.data.corpus.source)
        tokens = sum(map(len, documents))
        runs = {"jaxae": [], "gensim": []}
        for seed in range(1 if args.smoke else args.seeds):
            runs["jaxae"].append(jaxae_run(setting, fields, seed, args.smoke, root))
            runs["gensim"].append(gensim_run(documents, config, seed, runs["jaxae"][-1]["epochs"]))
            print(setting, seed, runs["jaxae"][-1], runs["gensim"][-1], flush=True)
        settings[setting] = {name: summary(rows, tokens) for name, rows in runs.items()}
    report = {"settings": settings, "corpus_tokens": tokens, "host_matmul_gflops": matmul_gflops()}
    return publish(report, markdown(report), args.out, corpus=config.data.corpus.source)


if __name__ == "__main__":
    main()
