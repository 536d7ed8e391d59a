"""The autoencoder family (AE, denoising, sparse, VAE, beta-VAE, IWAE): its trainer and what `jaxae.load`
returns for it (inference)."""
