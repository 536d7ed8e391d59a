"""Autoencoder and VAE: one contract for every family.

``encode``, ``decode`` and ``__call__(x, *, train) -> (reconstruction, aux)``; ``aux`` carries
``z`` and the decoder's pre-activation output ``logits`` (and ``mu``, ``logvar`` for the VAE), so
losses, clustering heads and adversarial regularisers read only ``aux``.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

OUTPUT_ACTIVATIONS = {"sigmoid": nn.sigmoid, "identity": lambda x: x}


class Autoencoder(nn.Module):
    """A deterministic autoencoder.

    Attributes:
      encoder: maps [batch, H, W, C] to codes [batch, latent].
      decoder: maps codes [batch, latent] to pre-activation images [batch, H, W, C].
      output_activation: 'sigmoid' (images in [0, 1], Bernoulli likelihood) or 'identity'.
    """

    encoder: nn.Module
    decoder: nn.Module
    output_activation: str = "sigmoid"

    def encode(self, x):
        """x: [batch, H, W, C] -> z: [batch, latent]."""
        return self.encoder(x).astype(jnp.float32)

    def decode(self, z):
        """z: [batch, latent] -> reconstruction: [batch, H, W, C] in image space."""
        return OUTPUT_ACTIVATIONS[self.output_activation](self.decode_logits(z))

    def decode_logits(self, z):
        """z: [batch, latent] -> decoder output before the output activation, float32."""
        return self.decoder(z).astype(jnp.float32)

    def __call__(self, x, *, train: bool = False):
        """x: [batch, H, W, C] -> (reconstruction [batch, H, W, C], aux with 'z' and 'logits')."""
        del train  # No dropout or batch statistics yet; kept for the shared contract.
        z = self.encode(x)
        logits = self.decode_logits(z)
        return OUTPUT_ACTIVATIONS[self.output_activation](logits), {"z": z, "logits": logits}


class VAE(Autoencoder):
    """A variational autoencoder with a diagonal Gaussian posterior and an N(0, I) prior.

    The encoder must output 2 * latent_dim features: the mean and the log-variance. ``__call__``
    draws z with the reparameterisation trick from the ``'sample'`` PRNG stream.
    """

    def encode(self, x):
        """x: [batch, H, W, C] -> (mu, logvar), each [batch, latent]."""
        mu, logvar = jnp.split(self.encoder(x).astype(jnp.float32), 2, axis=-1)
        return mu, logvar

    def __call__(self, x, *, train: bool = False, eps=None):
        """x: [batch, H, W, C] -> (reconstruction, aux with 'z', 'mu', 'logvar', 'logits').

        eps: [batch, latent] standard normal noise; drawn from the 'sample' stream when None.
        """
        del train
        mu, logvar = self.encode(x)
        if eps is None:
            eps = jax.random.normal(self.make_rng("sample"), mu.shape, mu.dtype)
        z = mu + jnp.exp(0.5 * logvar) * eps
        logits = self.decode_logits(z)
        aux = {"z": z, "mu": mu, "logvar": logvar, "logits": logits}
        return OUTPUT_ACTIVATIONS[self.output_activation](logits), aux
