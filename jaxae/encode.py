"""`python -m jaxae.encode`: the command-line entry point of jaxae.tools.encode, where the tool lives."""

import sys

from jaxae.tools.encode import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
