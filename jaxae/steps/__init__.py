"""Parts of a train step: the train state, optimizers, the one guarded update, loss scaling, per-example
random streams, denoising corruptions. Pure functions of arrays."""
