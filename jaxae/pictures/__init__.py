"""Pictures a run draws: image grids and scatter plots to PNG (viz), interpolations and traversals of a
decoder's code space (latent_pictures)."""
