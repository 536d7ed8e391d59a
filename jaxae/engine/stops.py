"""Stopping cleanly: SIGTERM (preemption) and SIGINT (Ctrl-C) become a flag the loop checks at its
log boundaries; the loop saves and raises `Stopped`, and train.py exits with 128 + the signal."""

from __future__ import annotations

import signal


class Stopped(Exception):
    """A signal arrived; a checkpoint of `step` was saved before stopping."""

    def __init__(self, step: int, signum: int):
        self.step, self.signum = step, signum
        self.exit_code = 128 + signum  # 143 for SIGTERM, 130 for SIGINT, as shells report them.
        super().__init__(f"stopped by {signal.Signals(signum).name} after saving step {step}")


class StopSignals:
    """Within the block, SIGTERM and the first SIGINT only set `received` (the signal's number).

    A second SIGINT interrupts at once (KeyboardInterrupt), for a user who will not wait for the
    next log boundary. The previous handlers are restored on exit.
    """

    HANDLED = (signal.SIGTERM, signal.SIGINT)

    def __enter__(self):
        self.received = None
        self._previous = {signum: signal.signal(signum, self._handle) for signum in self.HANDLED}
        return self

    def _handle(self, signum, frame):
        del frame
        if signum == signal.SIGINT and self.received == signal.SIGINT:
            raise KeyboardInterrupt
        if self.received is None:  # The first signal sets the exit status.
            self.received = signum

    def __exit__(self, *exc):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
