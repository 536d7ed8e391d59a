"""The experiments: one `get_config(variant)` per file, run as `python train.py --config configs/<name>.py`.

Each file builds on `jaxae.config.defaults`; a wheel installs this folder as `jaxae/experiments`, and
`jaxae.get_config(name, variant)` finds it in either place.
"""
