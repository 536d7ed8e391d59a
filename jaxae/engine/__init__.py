"""The one training loop: the run's checks and session (loop), the hot loop (iteration), events on absolute
steps, runners (K steps per dispatch), the evaluation driver, stop signals, and `load` (a finished run's model).
It reaches families only through the Trainer contract and its registry (trainers.base, trainers.registry)."""
