"""User tools built on `jaxae.load` and the run's record: `python -m jaxae.encode` (encode), `python -m
jaxae.plot` (plot), and what both read of a run's data (run_data)."""
