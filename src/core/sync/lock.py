"""One run at a time per state store: an flock held for the life of the run (SQLite), or the
project's advisory lock (PostgreSQL).

A kernel lock is released when its process dies, kill -9 included, so a crashed run never leaves
a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from leadsync.core.errors import LockHeld
from leadsync.core.state.pglock import AdvisoryRunLock
from leadsync.core.state.target import StateTarget

__all__ = ["RunLock", "run_lock"]


def run_lock(target: StateTarget) -> RunLock | AdvisoryRunLock:
    """The lock of a run on `target`: an flock beside the SQLite file, or the project's advisory
    lock on PostgreSQL (src/core/state/pglock.py)."""
    if target.is_postgres:
        return AdvisoryRunLock(target)
    return RunLock(target.path)


class RunLock:
    def __init__(self, state_path: Path) -> None:
        self.path = state_path.parent / "leadsync.lock"
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
            os.close(fd)
            raise LockHeld(f"another leadsync run holds {self.path}" + (f" (pid {holder})" if holder else "")) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc: object | TracebackType) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
