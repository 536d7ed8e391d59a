"""`python -m jaxae.export`: the command-line entry point of jaxae.tools.export, where the tool lives."""

import sys

from jaxae.tools.export import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
