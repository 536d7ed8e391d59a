"""The errors a user can cause. Each message names the field or array and the offending value."""

import contextlib
import contextvars

# Set while train.py runs: messages then name its flags (--workdir) rather than the Python API's
# arguments (workdir=), so each caller is told what to change in its own words.
_COMMAND_LINE = contextvars.ContextVar("jaxae_command_line", default=False)


class JaxaeError(ValueError):
    """Base class: a mistake in what the user asked for, reported before compute is spent."""


class ConfigError(JaxaeError):
    """A config field has a wrong name, type or value."""


class DataError(JaxaeError):
    """A data set or array is missing, malformed, or holds values the model cannot take."""


class CheckpointError(JaxaeError):
    """A checkpoint cannot be used for this run (another model or config, unreadable, ...)."""


class WorkdirError(JaxaeError):
    """The workdir cannot be written (full disk, read-only, removed); earlier checkpoints are kept."""


class CheckpointWriteError(WorkdirError):
    """A checkpoint could not be written; the message names the checkpoints that are intact."""


class NonFiniteLossError(JaxaeError):
    """Training produced a NaN or infinite loss or gradient; the message names the step, the metric
    and the last good checkpoint, none of which was overwritten."""


class TrainingFailedError(JaxaeError):
    """The family diagnosed a failed run (a GAN's discriminator winning outright); the message names
    the steps, what was seen and the last good checkpoint, none of which was overwritten."""


@contextlib.contextmanager
def writing(what: str):
    """Turns an OSError raised while writing `what` into a WorkdirError that says so."""
    try:
        yield
    except OSError as error:
        raise WorkdirError(f"could not write {what}: {error.strerror or error}") from error


@contextlib.contextmanager
def from_the_command_line():
    """Within it, `option` names train.py's flags."""
    token = _COMMAND_LINE.set(True)
    try:
        yield
    finally:
        _COMMAND_LINE.reset(token)


def option(flag: str, argument: str) -> str:
    """How a message names an option: `flag` under train.py, `argument` in the Python API."""
    return flag if _COMMAND_LINE.get() else argument


def another_workdir() -> str:
    """'another --workdir' or 'another workdir', in the caller's words."""
    return "another " + option("--workdir", "workdir")
