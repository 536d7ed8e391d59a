"""`jaxae`, the command an installed wheel puts on the PATH (also `python -m jaxae`):

    jaxae train --config vae_mnist --workdir runs/vae_mnist     # the launcher's flags; configs by name or path
    jaxae encode --workdir runs/vae_mnist --out codes.npz        # python -m jaxae.encode
    jaxae export --workdir runs/vae_mnist --out exported/vae     # python -m jaxae.export
    jaxae plot --workdir runs/vae_mnist --out plots/vae_mnist    # python -m jaxae.plot
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
        print(__doc__.strip(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "experiments":
        return _experiments(rest)
    if command not in TOOLS:
        print(f"jaxae: error: no command {command!r}; choose one of {', '.join([*TOOLS, 'experiments'])}",
              file=sys.stderr)
        return 2
    tool = importlib.import_module(TOOLS[command])
    if command == "train":
        tool.launch([f"jaxae {command}", *rest])  # absl's app: it exits with the run's status, never returns.
        return 1
    return tool.main(rest)


def _experiments(rest) -> int:
    """Prints the shipped experiments' names, one a line."""
    from jaxae.config.experiments import names
    from jaxae.errors import JaxaeError

    if rest:
        print(f"jaxae: error: experiments takes no arguments; got {rest}", file=sys.stderr)
        return 2
    try:
        print("\n".join(names()))
    except JaxaeError as error:
        print(f"jaxae: error: {error}", file=sys.stderr)
        return 2
    return 0
