"""The errors a user can cause. Each message names the field or array and the offending value."""


class JaxaeError(ValueError):
    """Base class: a mistake in what the user asked for, reported before compute is spent."""


class ConfigError(JaxaeError):
    """A config field has a wrong name, type or value."""


class DataError(JaxaeError):
    """A data set or array is missing, malformed, or holds values the model cannot take."""


class CheckpointError(JaxaeError):
    """A checkpoint cannot be used for this run (another model or config, unreadable, ...)."""


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss; the message names the step and last checkpoint."""
