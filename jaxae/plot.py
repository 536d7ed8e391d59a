"""`python -m jaxae.plot`: the command-line entry point of jaxae.tools.plot, where the tool lives."""

import sys

from jaxae.tools.plot import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
