"""What a run leaves and how it is read back: checkpoints (the only Orbax user), resume, the run record,
the workdir and its lock, metric writers. Knows no family."""
