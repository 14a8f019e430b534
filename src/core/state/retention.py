"""Retention: deleting old bookkeeping rows that no guarantee needs, and compacting the file.

What may go (older than the cutoff): score history a handoff's requalification check will never
read, finished runs, acknowledged or superseded outbox rows, and acknowledged dead letters of
writes. What always stays: pending outbox rows (sent or not), dead and unconfirmed outbox rows
(a person decides), the task row of every open handoff, task creates inside the reconcile window,
unacknowledged dead letters, dead letters of pulled records (their content is what keeps a re-read
bad record from failing runs again once acknowledged), and the newest row of every table whose
ids are reused as keys (runs, dead letters, outbox, score history), so ids never repeat. Leads,
activities, scores, pushed scores, handoffs, cursors and kv are never touched here.

Orphan completions (a CRM task completion kept until its lead is stored, so a lost state store's
closed episode can be rebuilt) go when completed before the cutoff *and* before the cooldown
window, and only while no stored lead matches them: a completion whose lead is stored is rebuilt
by the next run, and one inside the cooldown could still hold its lead back if the lead arrived.
Waiting activities (an activity read before its lead) go when first kept before the cutoff and no
stored lead matches them: a lead deleted in the vendor before it was ever pulled.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["PruneCounts", "compact", "counts", "prune", "store_bytes", "table_bytes"]

# Tables whose row counts `counts` reports (the ones retention works on, and the big ones).
_TABLES = ("leads", "activities", "scores", "score_history", "runs", "outbox", "dead_letters", "handoffs",
           "orphan_completions", "waiting_activities", "waiting_opportunities")
# Tables PostgreSQL's compaction vacuums: those, and the leads to rescore (every run inserts and
# deletes its rows, the churn the lead rows had while the mark was a column of theirs).
_VACUUMED = (*_TABLES, "dirty_leads")


@dataclass
class PruneCounts:
    """Rows deleted per table."""

    score_history: int = 0
    runs: int = 0
    outbox: int = 0
    dead_letters: int = 0
    orphan_completions: int = 0
    waiting_activities: int = 0
    waiting_opportunities: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    @property
    def total(self) -> int:
        return sum(self.as_dict().values())


def prune(db: sqlite3.Connection, *, before: float, reconcile_since: float,
          cooldown_since: float | None = None) -> PruneCounts:
    """Delete what retention may delete that is older than `before` (epoch seconds).

    Task creates acknowledged at or after `reconcile_since` stay whatever `before` says (the
    reconcile step reads them); so do orphan completions completed at or after `cooldown_since`
    (now minus the handoff cooldown: a rebuilt episode would still hold its lead back). Call inside
    a transaction.
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
    deleted.orphan_completions = _prune_orphans(db, before if cooldown_since is None else min(before, cooldown_since))
    for table in ("waiting_activities", "waiting_opportunities"):
        setattr(deleted, table, db.execute(
            f"DELETE FROM {table} WHERE seen_at < ? AND NOT EXISTS (SELECT 1 FROM lead_refs r "
            f"WHERE r.connection = {table}.connection AND r.record_id = {table}.lead_record_id)",
            (before,),
        ).rowcount)
    return deleted


def _prune_orphans(db: sqlite3.Connection, before: float) -> int:
    """Delete orphan completions completed before `before` that no stored lead matches (by the
    connection's record id, else the e-mail or lead key, as the handoff step resolves them)."""
    return db.execute(
        "DELETE FROM orphan_completions WHERE completed_at < ? "
        "AND NOT EXISTS (SELECT 1 FROM lead_refs r WHERE r.connection = orphan_completions.connection "
        "AND r.record_id = orphan_completions.record_id) "
        "AND NOT EXISTS (SELECT 1 FROM leads l WHERE l.key = orphan_completions.email "
        "OR l.key = orphan_completions.lead_key) "
        "AND NOT EXISTS (SELECT 1 FROM leads l WHERE lower(l.email) = lower(orphan_completions.email) "
        "OR lower(l.email) = lower(orphan_completions.lead_key))",
        (before,),
    ).rowcount


def counts(db: sqlite3.Connection) -> dict[str, int]:
    """Rows per table of the tables retention reports on."""
    return {table: int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]) for table in _TABLES}


def compact(db: sqlite3.Connection, dialect: str = "sqlite") -> dict[str, Any]:
    """Give the freed space back (SQLite: VACUUM, then truncate the WAL; PostgreSQL: VACUUM ANALYZE
    of the project's tables, which makes the space reusable). Returns the store's size after.

    Call outside any transaction; SQLite rewrites the whole file and needs up to twice its size free.
    """
    if dialect == "postgresql":
        for table in _VACUUMED:
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
