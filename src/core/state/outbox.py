"""The outbox: writes recorded before they are sent, so a crash never loses or repeats one."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from leadsync.connectors.redact import redact

__all__ = [
    "OutboxRow",
    "enqueue",
    "enqueue_scores",
    "last_sent",
    "mark_dead",
    "mark_done",
    "mark_done_many",
    "mark_retry",
    "mark_retry_many",
    "mark_not_applied",
    "mark_sending",
    "pending",
    "record_tasks",
    "requeue",
    "retarget_task",
    "resent_tasks",
    "status_counts",
    "supersede",
    "supersede_record_scores",
    "supersede_scores",
    "waiting",
]


@dataclass(frozen=True)
class OutboxRow:
    id: int
    key: str
    connection: str
    kind: str
    lead_key: str
    payload: dict[str, Any]
    attempts: int
    sends: int = 0


def enqueue(
    db: sqlite3.Connection,
    *,
    key: str,
    connection: str,
    kind: str,
    lead_key: str,
    payload: dict[str, Any],
    run_id: int | None = None,
) -> bool:
    """Record a planned write; False when a row with this idempotency key already exists.

    Call inside the transaction that also records why the write is planned (a handoff, a
    score), so both exist or neither does.
    """
    now = time.time()
    cursor = db.execute(
        "INSERT INTO outbox(key, connection, kind, lead_key, payload, run_id, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO NOTHING",
        (key, connection, kind, lead_key, json.dumps(payload, ensure_ascii=False, default=str), run_id, now, now),
    )
    return cursor.rowcount == 1


def enqueue_scores(db: sqlite3.Connection, connection: str, rows: list[tuple[str, str, dict[str, Any]]],
                   run_id: int | None = None) -> int:
    """Record many planned score updates, (key, lead key, payload) each, and supersede the rows
    still pending for the same leads; how many were new. A key already recorded (or repeated in
    `rows`) is left as it is and supersedes nothing, as `enqueue` then `supersede_scores` would.

    A few statements however many rows; call inside the transaction that plans them.
    """
    known = {r[0] for r in db.execute("SELECT key FROM outbox WHERE key IN (SELECT value FROM json_each(?))",
                                      (json.dumps([key for key, _, _ in rows]),))}
    now = time.time()
    fresh: dict[str, tuple[Any, ...]] = {}
    for key, lead_key, payload in rows:
        if key not in known and key not in fresh:
            fresh[key] = (key, connection, "score", lead_key, json.dumps(payload, ensure_ascii=False, default=str),
                          run_id, now, now)
    if not fresh:
        return 0
    db.executemany(
        "INSERT INTO outbox(key, connection, kind, lead_key, payload, run_id, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO NOTHING", list(fresh.values()))
    db.execute(
        "UPDATE outbox SET status = 'superseded', updated_at = ? WHERE connection = ? AND kind = 'score' "
        "AND status = 'pending' AND lead_key IN (SELECT value FROM json_each(?)) "
        "AND key NOT IN (SELECT value FROM json_each(?))",
        (now, connection, json.dumps([v[3] for v in fresh.values()]), json.dumps(list(fresh))),
    )
    return len(fresh)


def pending(
    db: sqlite3.Connection, connection: str, kind: str, limit: int, after_id: int = 0, not_sent_since: float | None = None
) -> list[OutboxRow]:
    """The oldest pending rows of one connection and kind, past `after_id`, and not handed to the
    vendor since `not_sent_since` (each row is tried once per run)."""
    rows = db.execute(
        "SELECT id, key, connection, kind, lead_key, payload, attempts, sends FROM outbox "
        "WHERE status = 'pending' AND connection = ? AND kind = ? AND id > ? "
        "AND (sent_at IS NULL OR sent_at < ?) ORDER BY id LIMIT ?",
        (connection, kind, after_id, not_sent_since if not_sent_since is not None else float("inf"), limit),
    ).fetchall()
    return [OutboxRow(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7]) for r in rows]


def mark_done(db: sqlite3.Connection, key: str, external_id: str | None, adopted_key: str | None = None) -> None:
    """The vendor acknowledged the write (or already had it, under `adopted_key` for a task)."""
    db.execute(
        "UPDATE outbox SET status = 'done', external_id = ?, adopted_key = ?, error = NULL, attempts = attempts + 1, "
        "updated_at = ? WHERE key = ?",
        (external_id, adopted_key, time.time(), key),
    )


def mark_done_many(db: sqlite3.Connection, done: list[tuple[str, str | None, str | None]]) -> None:
    """`mark_done` for many rows, (key, external id, adopted key) each, in one statement."""
    db.executemany(
        "UPDATE outbox SET status = 'done', external_id = ?, adopted_key = ?, error = NULL, attempts = attempts + 1, "
        "updated_at = ? WHERE key = ?",
        [(external_id, adopted_key, time.time(), key) for key, external_id, adopted_key in done],
    )


def mark_retry_many(db: sqlite3.Connection, retries: list[tuple[str, str]]) -> None:
    """`mark_retry` for many rows, (key, error) each, in one statement."""
    now = time.time()
    db.executemany("UPDATE outbox SET attempts = attempts + 1, error = ?, updated_at = ? WHERE key = ?",
                   [(redact(error), now, key) for key, error in retries])


def mark_retry(db: sqlite3.Connection, key: str, error: str) -> None:
    db.execute(
        "UPDATE outbox SET attempts = attempts + 1, error = ?, updated_at = ? WHERE key = ?",
        (redact(error), time.time(), key),
    )


def mark_not_applied(db: sqlite3.Connection, ids: list[int], error: str) -> None:
    """The vendor refused these rows' batch as a whole before applying any (the connection is not
    set up): undo `mark_sending`, so they wait as if never sent and need no duplicate check."""
    marks = ",".join("?" * len(ids))
    db.execute(
        f"UPDATE outbox SET sends = CASE WHEN sends > 0 THEN sends - 1 ELSE 0 END, sent_at = NULL, attempts = attempts + 1, error = ?, "
        f"updated_at = ? WHERE id IN ({marks})",
        (redact(error), time.time(), *ids),
    )


def mark_dead(db: sqlite3.Connection, key: str, error: str) -> None:
    db.execute(
        "UPDATE outbox SET status = 'dead', attempts = attempts + 1, error = ?, updated_at = ? WHERE key = ?",
        (redact(error), time.time(), key),
    )


def mark_sending(db: sqlite3.Connection, ids: list[int]) -> None:
    """Note that these rows are about to reach the vendor (committed before the call is made).

    A one-off permission to resend past a connector's fence (`retry_ambiguous`, set by a person's
    re-queue) is used up by this send.
    """
    marks = ",".join("?" * len(ids))
    db.execute(
        f"UPDATE outbox SET sent_at = ?, sends = sends + 1, "
        f"payload = CASE WHEN payload LIKE '%\"retry_ambiguous\"%' THEN json_remove(payload, '$.retry_ambiguous') "
        f"ELSE payload END WHERE id IN ({marks})",
        (time.time(), *ids),
    )


def resent_tasks(db: sqlite3.Connection, connection: str, since: float, limit: int) -> list[dict[str, Any]]:
    """Task creates acknowledged since `since` that were sent more than once, newest first.

    Only these can have been applied twice (an answer lost, then a resend), so only these need
    the vendor-side duplicate check.
    """
    rows = db.execute(
        "SELECT key, lead_key, payload, external_id, adopted_key FROM outbox "
        "WHERE kind = 'task' AND status = 'done' AND sends > 1 AND connection = ? AND updated_at >= ? "
        "ORDER BY updated_at DESC LIMIT ?",
        (connection, since, limit),
    ).fetchall()
    return [
        {"key": r[4] or r[0], "lead_key": r[1], "payload": json.loads(r[2]), "external_id": r[3]} for r in rows
    ]


def last_sent(db: sqlite3.Connection, connection: str, kind: str) -> float | None:
    """When a still-pending row of this connection and kind was last handed to the vendor."""
    row = db.execute(
        "SELECT MAX(sent_at) FROM outbox WHERE status = 'pending' AND connection = ? AND kind = ?", (connection, kind)
    ).fetchone()
    return row[0]


def supersede_scores(db: sqlite3.Connection, connection: str, lead_key: str, newer_key: str) -> None:
    """A newer planned score update replaces the ones still pending for the same lead."""
    db.execute(
        "UPDATE outbox SET status = 'superseded', updated_at = ? WHERE connection = ? AND kind = 'score' "
        "AND lead_key = ? AND status = 'pending' AND key != ?",
        (time.time(), connection, lead_key, newer_key),
    )


def _pending_for_record(db: sqlite3.Connection, connection: str, kind: str, record_id: str,
                        lead_key: str | None = None) -> list[str]:
    """Keys of the `kind` rows still pending in `connection` addressed to its record `record_id`
    (and filed under `lead_key`, when given), oldest first."""
    sql = "SELECT key, payload FROM outbox WHERE connection = ? AND kind = ? AND status = 'pending'"
    params = [connection, kind]
    if lead_key is not None:
        sql, params = sql + " AND lead_key = ?", [*params, lead_key]
    rows = db.execute(sql + " ORDER BY id", params).fetchall()
    return [key for key, payload in rows if json.loads(payload).get("record_id") == record_id]


def supersede_record_scores(db: sqlite3.Connection, connection: str, lead_key: str, record_id: str) -> int:
    """The score updates still pending for `lead_key` and addressed to the connection's record
    `record_id`, which moved to another lead, are superseded (that lead's score is not the record's
    any more; the new lead's is planned for it); returns how many."""
    keys = _pending_for_record(db, connection, "score", record_id, lead_key)
    supersede(db, keys)
    return len(keys)


def record_tasks(db: sqlite3.Connection, connection: str, record_id: str) -> list[str]:
    """Keys of the task creates still pending in `connection` addressed to its record `record_id`."""
    return _pending_for_record(db, connection, "task", record_id)


def retarget_task(db: sqlite3.Connection, key: str, lead_key: str, record_id: str) -> None:
    """A pending task create goes to another record of the connection, for `lead_key` (the record
    it named was merged away, or the episode moved to another lead)."""
    row = db.execute("SELECT payload FROM outbox WHERE key = ?", (key,)).fetchone()
    if row is None:
        return
    payload = {**json.loads(row[0]), "lead_key": lead_key, "record_id": record_id}
    db.execute("UPDATE outbox SET lead_key = ?, payload = ?, updated_at = ? WHERE key = ?",
               (lead_key, json.dumps(payload, ensure_ascii=False, default=str), time.time(), key))


def supersede(db: sqlite3.Connection, keys: list[str], lead_key: str | None = None) -> None:
    """These pending rows are not to be sent (their record or their episode is gone); with
    `lead_key`, they are filed under that lead (the one their episode went to)."""
    now = time.time()
    db.executemany("UPDATE outbox SET status = 'superseded', updated_at = ?, lead_key = COALESCE(?, lead_key) "
                   "WHERE key = ? AND status = 'pending'", [(now, lead_key, key) for key in keys])


def requeue(db: sqlite3.Connection, key: str) -> None:
    """A person re-queued a dead write: it is pending again. For a task, that is the word that an
    attempt whose outcome the connector could not know did not take effect, so it may pass the
    connector's fence once (`retry_ambiguous`)."""
    db.execute("UPDATE outbox SET status = 'pending', error = NULL, updated_at = ?, "
               "payload = CASE WHEN kind = 'task' THEN json_set(payload, '$.retry_ambiguous', json('true')) "
               "ELSE payload END WHERE key = ? AND status = 'dead'", (time.time(), key))


def waiting(db: sqlite3.Connection) -> tuple[int, str | None]:
    """How many pending rows the vendor refused for now, and the newest refusal."""
    count = db.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND error IS NOT NULL").fetchone()[0]
    row = db.execute("SELECT error FROM outbox WHERE status = 'pending' AND error IS NOT NULL "
                     "ORDER BY updated_at DESC LIMIT 1").fetchone()
    return int(count), (row[0] if row else None)


def status_counts(db: sqlite3.Connection) -> list[dict[str, Any]]:
    """Rows by connection, kind and status: [{connection, kind, status, count}]."""
    return [dict(r) for r in db.execute(
        "SELECT connection, kind, status, COUNT(*) AS count FROM outbox GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")]
