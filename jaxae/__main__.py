"""`python -m jaxae <command>`: the installed `jaxae` command (jaxae/cli.py) without its script."""

import sys

from jaxae.cli import main

if __name__ == "__main__":
    sys.exit(main())
