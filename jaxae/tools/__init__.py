"""User tools built on `jaxae.load` and the run's record: `python -m jaxae.encode` (encode), `python -m
jaxae.plot` (plot), `python -m jaxae.export` (export), what they read of a run's data (run_data), and
the training launcher that train.py and `jaxae train` run (train)."""
