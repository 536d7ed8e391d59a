"""`jaxae`, the command an installed wheel puts on the PATH (also `python -m jaxae`):

    jaxae train --config vae_mnist --workdir runs/vae_mnist     # train.py's flags; configs by name or path
    jaxae encode --workdir runs/vae_mnist --out codes.npz        # python -m jaxae.encode
    jaxae export --workdir runs/vae_mnist --out exported/vae     # python -m jaxae.export
    jaxae plot --workdir runs/vae_mnist --out latent.png         # python -m jaxae.plot
    jaxae experiments                                            # the shipped experiments' names

Each command takes the options of the tool it names (`jaxae <command> --help`).
"""

from __future__ import annotations

import importlib
import sys

TOOLS = {"train": "jaxae.tools.train", "encode": "jaxae.tools.encode", "export": "jaxae.tools.export",
         "plot": "jaxae.tools.plot"}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "experiments":
        from jaxae.config.experiments import names

        print("\n".join(names()))
        return 0
    if command not in TOOLS:
        print(f"jaxae: error: no command {command!r}; choose one of {', '.join([*TOOLS, 'experiments'])}",
              file=sys.stderr)
        return 2
    tool = importlib.import_module(TOOLS[command])
    if command == "train":
        tool.launch([f"jaxae {command}", *rest])  # absl's app: it exits with the run's status.
    return tool.main(rest)
