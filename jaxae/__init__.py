"""jaxae: JAX-first autoencoders.

Submodules are imported on use (``from jaxae import models, losses, trainers``) so that
``import jaxae`` stays cheap.
"""

__version__ = "0.1.0"
