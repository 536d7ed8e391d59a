"""Configs: loading files and --config.<field> overrides (loading), single-field checks shared by every
validation (checks), the whole config's validation (validation), the defaults every experiment starts from
(defaults) and the shipped experiments by name (experiments)."""
