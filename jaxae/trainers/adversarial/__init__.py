"""Two-player families: GAN / DCGAN / InfoGAN (gan) and adversarial autoencoders (aae), the players'
shared update (players), and what `jaxae.load` returns for each (gan_inference, aae_inference)."""
