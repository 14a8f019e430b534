"""The run lock on PostgreSQL: a session-level advisory lock per project.

It is held on a session of its own for the life of the run, so a second run of the same project
fails at once (`pg_try_advisory_lock`) while other projects' runs go on. The server releases it
when the session ends, a killed process's included (kill -9 closes its socket).
"""

from __future__ import annotations

import os
from types import TracebackType

from leadsync.core.errors import LockHeld, StateStoreError
from leadsync.core.state.pg import PgConnection, connect
from leadsync.core.state.pgstore import RUN_LOCK
from leadsync.core.state.target import StateTarget

__all__ = ["AdvisoryRunLock"]


class AdvisoryRunLock:
    def __init__(self, target: StateTarget) -> None:
        self.target = target
        self._db: PgConnection | None = None

    def __enter__(self) -> AdvisoryRunLock:
        target = self.target
        db = connect(target.url or "", password=target.password, schema=None,
                     application=f"leadsync run {target.project} pid {os.getpid()}", where=target.describe())
        try:
            got = db.execute("SELECT pg_try_advisory_lock(?, hashtext(?))", (RUN_LOCK, target.schema)).fetchone()[0]
            if not got:
                holder = db.execute(
                    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.classid = ? AND l.objid = hashtext(?)::oid AND l.granted",
                    (RUN_LOCK, target.schema),
                ).fetchone()
                who = f" ({holder[0]})" if holder and holder[0] else ""
                raise LockHeld(f"another leadsync run holds the lock of project {target.project}{who}")
        except BaseException:
            db.close()
            raise
        self._db = db
        return self

    def check(self) -> None:
        """Raise StateStoreError when the lock's session is gone (the server then released the lock)."""
        if self._db is None:
            return
        try:
            self._db.execute("SELECT 1").fetchone()
        except StateStoreError as exc:
            raise StateStoreError(f"{self.target.describe()}: the session holding the run lock was lost, "
                                  f"so another run may start; this run stops here ({exc})") from None

    def __exit__(self, *exc: object | TracebackType) -> None:
        if self._db is not None:
            try:
                self._db.execute("SELECT pg_advisory_unlock(?, hashtext(?))", (RUN_LOCK, self.target.schema))
            except Exception:
                pass  # closing the session releases it as well
            self._db.close()
            self._db = None
