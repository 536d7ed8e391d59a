"""Thin launcher: flags -> config -> (multi-host init) -> jaxae.engine.loop.run (jaxae/tools/train.py,
which an installed wheel runs as `jaxae train` with the same flags).

    python train.py --config configs/vae_mnist.py --workdir runs/vae_mnist
    python train.py --config configs/vae_mnist.py:tiny --workdir /tmp/tiny --config.model.latent_dim=8
    python train.py --config vae_mnist:tiny --workdir /tmp/tiny    # a shipped experiment by name

Every mistake a user can make ends in one line, `jaxae: error: ...`, and exit status 1; a run
stopped by SIGTERM or Ctrl-C saves first and exits with 143 or 130.
"""

from jaxae.tools.train import flags, launch, main, parse_flags

__all__ = ["flags", "launch", "main", "parse_flags"]

if __name__ == "__main__":
    launch()
