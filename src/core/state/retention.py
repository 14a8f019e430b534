"""Retention: deleting old bookkeeping rows that no guarantee needs, and compacting the file.

What may go (older than the cutoff): score history a handoff's requalification check will never
read, finished runs, acknowledged or superseded outbox rows, and acknowledged dead letters of
writes. What always stays: pending outbox rows (sent or not), dead and unconfirmed outbox rows
(a person decides), the task row of every open handoff, task creates inside the reconcile window,
unacknowledged dead letters, dead letters of pulled records (their content is what keeps a re-read
bad record from failing runs again once acknowledged), and the newest row of every table whose
ids are reused as keys (runs, dead letters, outbox, score history), so ids never repeat. Leads,
activities, scores, pushed scores, handoffs, cursors and kv are never touched here.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["PruneCounts", "compact", "counts", "prune", "store_bytes", "table_bytes"]

# Tables whose row counts `counts` reports (the ones retention works on, and the big ones).
_TABLES = ("leads", "activities", "scores", "score_history", "runs", "outbox", "dead_letters", "handoffs")


@dataclass
class PruneCounts:
    """Rows deleted per table."""

    score_history: int = 0
    runs: int = 0
    outbox: int = 0
    dead_letters: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    @property
    def total(self) -> int:
        return self.score_history + self.runs + self.outbox + self.dead_letters


def prune(db: sqlite3.Connection, *, before: float, reconcile_since: float) -> PruneCounts:
    """Delete what retention may delete that is older than `before` (epoch seconds).

    Task creates acknowledged at or after `reconcile_since` stay whatever `before` says (the
    reconcile step reads them). Call inside a transaction.
    """
    deleted = PruneCounts()
    # requalified() reads a lead's history after the opening of its latest handoff: that stays.
    deleted.score_history = db.execute(
        "DELETE FROM score_history WHERE at < ? AND id < (SELECT MAX(id) FROM score_history) "
        "AND at <= COALESCE((SELECT MAX(h.opened_at) FROM handoffs h WHERE h.lead_key = score_history.lead_key), at)",
        (before,),
    ).rowcount
    deleted.runs = db.execute(
        "DELETE FROM runs WHERE started_at < ? AND status NOT IN ('running') "
        "AND id < (SELECT MAX(id) FROM runs) "
        "AND id < COALESCE((SELECT MAX(id) FROM runs WHERE status NOT IN ('running', 'killed')), 0)",
        (before,),
    ).rowcount
    deleted.outbox = db.execute(
        "DELETE FROM outbox WHERE status IN ('done', 'superseded') AND updated_at < ? "
        "AND NOT (kind = 'task' AND updated_at >= ?) "
        "AND id < (SELECT MAX(id) FROM outbox) "
        "AND key NOT IN (SELECT task_key FROM handoffs WHERE status = 'open') "
        "AND (adopted_key IS NULL OR adopted_key NOT IN (SELECT task_key FROM handoffs WHERE status = 'open'))",
        (before, reconcile_since),
    ).rowcount
    deleted.dead_letters = db.execute(
        "DELETE FROM dead_letters WHERE requeued_at IS NOT NULL AND requeued_at < ? AND created_at < ? "
        "AND kind IN ('score', 'task') AND id < (SELECT MAX(id) FROM dead_letters)",
        (before, before),
    ).rowcount
    return deleted


def counts(db: sqlite3.Connection) -> dict[str, int]:
    """Rows per table of the tables retention reports on."""
    return {table: int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]) for table in _TABLES}


def compact(db: sqlite3.Connection, dialect: str = "sqlite") -> dict[str, Any]:
    """Give the freed space back (SQLite: VACUUM, then truncate the WAL; PostgreSQL: VACUUM ANALYZE
    of the project's tables, which makes the space reusable). Returns the store's size after.

    Call outside any transaction; SQLite rewrites the whole file and needs up to twice its size free.
    """
    if dialect == "postgresql":
        for table in _TABLES:
            db.execute(f"VACUUM (ANALYZE) {table}")
        return {"bytes": store_bytes(db, dialect)}
    db.execute("VACUUM")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    return {"bytes": store_bytes(db, dialect)}


def store_bytes(db: sqlite3.Connection, dialect: str = "sqlite") -> int:
    """Bytes the store's data takes: SQLite's pages; PostgreSQL: the project schema's tables with
    their indexes and TOAST."""
    if dialect == "postgresql":
        row = db.execute(
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r'"
        ).fetchone()
        return int(row[0])
    page_size = int(db.execute("PRAGMA page_size").fetchone()[0])
    pages = int(db.execute("PRAGMA page_count").fetchone()[0])
    return page_size * pages


def table_bytes(db: sqlite3.Connection) -> dict[str, int]:
    """Bytes on disk per table and index (SQLite's dbstat; PostgreSQL: pg_total_relation_size)."""
    return {str(r[0]): int(r[1]) for r in db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC")}
