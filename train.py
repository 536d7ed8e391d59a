"""Thin launcher: flags -> config -> jaxae.loop.run(config, workdir).

    python train.py --config configs/vae_mnist.py --workdir runs/vae_mnist
    python train.py --config configs/vae_mnist.py:tiny --workdir /tmp/tiny --config.model.latent_dim=8
"""

import sys

from absl import app, flags, logging
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file("config", None, "Path to a configs/<name>.py file (':tiny' for its tiny variant).",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics.jsonl, TensorBoard and images.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if not flags.FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)  # Orbax logs every file it writes at INFO.
    from jaxae.compile_cache import enable_compile_cache
    from jaxae.errors import JaxaeError
    from jaxae.loop import EXIT_PREEMPTED, Preempted, run

    config = _CONFIG.value
    enable_compile_cache(config.compile_cache_dir)
    try:
        result = run(config, _WORKDIR.value)
    except JaxaeError as error:
        sys.exit(f"jaxae: error: {error}")
    except Preempted as stop:
        print(f"jaxae: {stop}; run the same command again to resume.", flush=True)
        sys.exit(EXIT_PREEMPTED)
    print("final eval: " + " ".join(f"{k}={v:.4f}" for k, v in result.eval_metrics.items()))
    print(f"checkpoints: {result.checkpoint_dir}")
    print(f"metrics:     {result.metrics_path}")
    print(f"tensorboard: {result.workdir}/tensorboard")
    for path in result.image_paths:
        print(f"image:       {path}")


if __name__ == "__main__":
    app.run(main)
