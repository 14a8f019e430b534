"""Stopping a run cleanly: SIGTERM, SIGINT and `--max-duration`.

The first signal asks the run to stop: the batch or page in flight finishes (or stays recorded as
possibly applied: its outbox rows were stamped `sent_at` before the call), nothing new starts, the
run is recorded as `interrupted` and the lock is released. A second signal stops at once, with the
same bookkeeping. The next run resumes from the outbox and the cursors like after any crash.
"""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType
from typing import Any

__all__ = ["RunInterrupted", "StopFlag"]

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class RunInterrupted(Exception):
    """The run was asked to stop; `reason` says why ("SIGTERM", "max duration of 60 s")."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"run interrupted: {reason}")
        self.reason = reason


class StopFlag:
    """A stop request and an optional deadline, checked between batches and pages."""

    def __init__(self, max_duration_s: float | None = None) -> None:
        self.reason: str | None = None
        self._max = max_duration_s
        self._deadline = time.monotonic() + max_duration_s if max_duration_s else None
        self._previous: dict[int, Any] = {}

    def request(self, reason: str) -> None:
        self.reason = self.reason or reason

    def check(self) -> None:
        """Raise RunInterrupted when a stop was requested or the deadline has passed."""
        if self.reason is None and self._deadline is not None and time.monotonic() >= self._deadline:
            self.reason = f"max duration of {self._max:g} s reached"
        if self.reason is not None:
            raise RunInterrupted(self.reason)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.reason is not None:  # the second signal: stop now
            raise RunInterrupted(f"{self.reason}, then {name}")
        self.request(name)

    def __enter__(self) -> StopFlag:
        if threading.current_thread() is threading.main_thread():
            for sig in _SIGNALS:
                self._previous[sig] = signal.signal(sig, self._on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
