"""Named state operations for the inside-sales KPIs: indexed aggregates, never row loops.

Every function takes the SQLite connection and a half-open period ``[start, end)`` in UTC epoch
seconds, and returns plain data (dicts and tuples) for the pure report functions in
`leadsync.core.reports`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "GROUPS",
    "CallRules",
    "analyze",
    "call_timing",
    "put_benchmark_rows",
    "mql_passes",
    "rule_outcomes",
    "score_histogram",
    "stage_counts",
    "won_amounts",
]

# By `--by` value (month and week are split by the caller): the group expression and the join it
# needs, on activities (whose lead_source column a trigger keeps current) and on other tables.
GROUPS: dict[str | None, tuple[tuple[str, str], tuple[str, str]]] = {
    None: (("''", ""), ("''", "")),
    "owner": (("x.owner", ""), ("x.owner", "")),
    "source": (("x.lead_source", ""), ("l.lead_source", "LEFT JOIN leads l ON l.key = x.lead_key")),
    "segment": (("s.segment", "LEFT JOIN scores s ON s.lead_key = x.lead_key"),) * 2,
}


@dataclass(frozen=True)
class CallRules:
    """What counts as a connect and as a conversation (the `[kpi]` settings)."""

    connect_seconds: int = 1
    conversation_seconds: int = 120
    connected_outcomes: tuple[str, ...] = ("connected", "conversation", "meeting_booked", "gatekeeper")

    def connect_sql(self) -> tuple[str, list[Any]]:
        marks = ",".join("?" * len(self.connected_outcomes)) or "NULL"
        return (f"(x.duration_s >= ? OR x.outcome IN ({marks}))", [self.connect_seconds, *self.connected_outcomes])


def _group(group: str | None) -> tuple[tuple[str, str], tuple[str, str]]:
    if group not in GROUPS:
        raise ValueError(f"unknown grouping {group!r}")
    return GROUPS[group]


def stage_counts(db: sqlite3.Connection, start: float, end: float, rules: CallRules,
                 group: str | None = None) -> dict[str, dict[str, float]]:
    """Group key ('' without grouping, None for an unknown owner/source/segment mapped to '') ->
    calls, connects, conversations, reps (distinct callers), meetings_set, meetings_held,
    opportunities, wins, losses, won_amount (sum of won amounts) in the period."""
    (expr, join), (other_expr, other_join) = _group(group)
    connect, connect_args = rules.connect_sql()
    result: dict[str, dict[str, float]] = {}

    def row(key: Any) -> dict[str, float]:
        return result.setdefault("" if key is None else str(key), {
            "calls": 0, "connects": 0, "conversations": 0, "reps": 0, "meetings_set": 0, "meetings_held": 0,
            "opportunities": 0, "wins": 0, "losses": 0, "won_amount": 0.0,
        })

    group_by = "GROUP BY 1" if group is not None else ""  # no sorter for the plain totals
    for key, calls, connects, conversations, reps in db.execute(
        f"SELECT {expr}, COUNT(*), TOTAL({connect}), TOTAL(x.duration_s >= ?), COUNT(DISTINCT x.owner) "
        f"FROM activities x {join} WHERE x.type = 'call' AND x.occurred_at >= ? AND x.occurred_at < ? {group_by}",
        (*connect_args, rules.conversation_seconds, start, end),
    ):
        if calls:
            row(key).update(calls=calls, connects=int(connects), conversations=int(conversations), reps=reps)
    for key, booked, held in db.execute(
        f"SELECT {expr}, TOTAL(x.type = 'meeting_set'), TOTAL(x.type = 'meeting' AND x.outcome = 'held') "
        f"FROM activities x {join} WHERE x.type IN ('meeting_set', 'meeting') AND x.occurred_at >= ? "
        f"AND x.occurred_at < ? {group_by}",
        (start, end),
    ):
        if booked or held:
            row(key).update(meetings_set=int(booked), meetings_held=int(held))
    for key, created in db.execute(
        f"SELECT {other_expr}, COUNT(*) FROM opportunities x {other_join} WHERE x.created_at >= ? AND x.created_at < ? {group_by}",
        (start, end),
    ):
        if created:
            row(key)["opportunities"] = created
    for key, status, closed, amount in db.execute(
        f"SELECT {other_expr}, x.status, COUNT(*), TOTAL(x.amount) FROM opportunities x {other_join} "
        "WHERE x.status IN ('won', 'lost') AND x.closed_at >= ? AND x.closed_at < ? GROUP BY 1, 2",
        (start, end),
    ):
        counts = row(key)
        if status == "won":
            counts.update(wins=closed, won_amount=amount)
        else:
            counts["losses"] = closed
    return result


def call_timing(db: sqlite3.Connection, start: float, end: float, rules: CallRules,
                utc_offset_s: float) -> list[tuple[int, int, int, int]]:
    """(weekday 0=Monday, local hour, calls, connects) for calls in a period over which the local
    time zone keeps one UTC offset (the caller splits a period at offset changes)."""
    connect, connect_args = rules.connect_sql()
    return [tuple(r) for r in db.execute(  # type: ignore[misc]
        "SELECT (CAST((x.occurred_at + ?) / 86400 AS INTEGER) + 3) % 7 AS wd, "
        "CAST((x.occurred_at + ?) / 3600 AS INTEGER) % 24 AS hr, "
        f"COUNT(*), CAST(TOTAL({connect}) AS INTEGER) FROM activities x "
        "WHERE x.type = 'call' AND x.occurred_at >= ? AND x.occurred_at < ? GROUP BY wd, hr",
        (utc_offset_s, utc_offset_s, *connect_args, start, end),
    )]


MQL_GROUPS = {
    None: "''",
    "segment": "h.segment",
    "score_band": "CAST(h.score / 10 AS INTEGER) * 10",
    "source": "l.lead_source",
}


def mql_passes(db: sqlite3.Connection, start: float, end: float, group: str | None = None) -> list[dict[str, Any]]:
    """Per group of the handoffs opened in the period: handoffs, accepted (not rejected), meeting
    set, opportunity and won after the handoff opened, and the mean score at handoff."""
    if group not in MQL_GROUPS:
        raise ValueError(f"unknown grouping {group!r}")
    sql = (
        f"SELECT {MQL_GROUPS[group]} AS g, COUNT(*), TOTAL(h.status != 'rejected'), "
        "TOTAL(EXISTS(SELECT 1 FROM activities a WHERE a.lead_key = h.lead_key AND a.type = 'meeting_set' "
        "AND a.occurred_at >= h.opened_at)), "
        "TOTAL(EXISTS(SELECT 1 FROM opportunities o WHERE o.lead_key = h.lead_key AND o.created_at >= h.opened_at)), "
        "TOTAL(EXISTS(SELECT 1 FROM opportunities o WHERE o.lead_key = h.lead_key AND o.created_at >= h.opened_at "
        "AND o.status = 'won')), AVG(h.score) "
        "FROM handoffs h LEFT JOIN leads l ON l.key = h.lead_key "
        "WHERE h.opened_at >= ? AND h.opened_at < ? GROUP BY g ORDER BY g"
    )
    return [
        {"key": "" if key is None else str(key), "handoffs": n, "accepted": int(acc), "meetings": int(met),
         "opportunities": int(opp), "won": int(won), "mean_score": mean}
        for key, n, acc, met, opp, won, mean in db.execute(sql, (start, end))
    ]


_OUTCOME_EXISTS = {
    "meeting": "EXISTS(SELECT 1 FROM activities a WHERE a.lead_key = s.lead_key AND a.type = 'meeting_set')",
    "opportunity": "EXISTS(SELECT 1 FROM opportunities o WHERE o.lead_key = s.lead_key)",
    "won": "EXISTS(SELECT 1 FROM opportunities o WHERE o.lead_key = s.lead_key AND o.status = 'won')",
}


def rule_outcomes(db: sqlite3.Connection, outcome: str) -> tuple[int, int, list[tuple[str, int, int]]]:
    """(scored leads, of them with the outcome, [(rule, leads it fired for, of them with the
    outcome)]) over every scored lead's current breakdown."""
    if outcome not in _OUTCOME_EXISTS:
        raise ValueError(f"unknown outcome {outcome!r} (meeting, opportunity or won)")
    scored = f"SELECT s.lead_key AS lead_key, {_OUTCOME_EXISTS[outcome]} AS pos, s.breakdown AS breakdown FROM scores s"
    total, positive = db.execute(f"SELECT COUNT(*), TOTAL(pos) FROM ({scored})").fetchone()
    rules = [
        (str(rule), fired, int(pos)) for rule, fired, pos in db.execute(
            f"SELECT json_extract(j.value, '$.rule') AS rule, COUNT(DISTINCT o.lead_key), TOTAL(o.pos) "
            f"FROM ({scored}) o, json_each(o.breakdown) j GROUP BY rule ORDER BY rule"
        ) if rule is not None
    ]
    return total, int(positive), rules


def score_histogram(db: sqlite3.Connection, width: int = 10) -> list[tuple[int, str, int]]:
    """(band start, segment, leads) of the current scores, bands `width` points wide."""
    return [tuple(r) for r in db.execute(  # type: ignore[misc]
        "SELECT CAST(total / ? AS INTEGER) * ?, segment, COUNT(*) FROM scores GROUP BY 1, 2 ORDER BY 1, 2",
        (width, width),
    )]


def won_amounts(db: sqlite3.Connection, start: float, end: float) -> tuple[int, float]:
    """(won opportunities with an amount, sum of their amounts) closed in the period."""
    n, total = db.execute(
        "SELECT COUNT(amount), TOTAL(amount) FROM opportunities WHERE status = 'won' AND closed_at >= ? AND closed_at < ?",
        (start, end),
    ).fetchone()
    return n, total


def known_groups(keys: Sequence[str]) -> list[str]:
    """Group keys sorted for display, the unknown ('') last."""
    return sorted(keys, key=lambda k: (k == "", k))


def put_benchmark_rows(db: sqlite3.Connection, *, scores: Iterable[tuple[str, int, str, float]],
                       opportunities: Iterable[tuple[Any, ...]], handoffs: Iterable[tuple[Any, ...]]) -> None:
    """Bulk insert for the KPI benchmark: scores as (lead_key, total, segment, scored_at);
    opportunities as (connection, source_id, lead_key, status, created_at, closed_at, amount,
    owner, data); handoffs as (lead_key, connection, status, score, segment, opened_at, due_at, task_key)."""
    db.executemany("INSERT INTO scores(lead_key, total, behavior, attribute, segment, sheet_version, scored_at, "
                   "breakdown) VALUES (?, ?, 0, 0, ?, 'v', ?, '[]')", scores)
    db.executemany("INSERT INTO opportunities(connection, source_id, lead_key, status, created_at, closed_at, amount, "
                   "owner, data) VALUES (?,?,?,?,?,?,?,?,?)", opportunities)
    db.executemany("INSERT INTO handoffs(lead_key, connection, status, score, segment, opened_at, due_at, task_key) "
                   "VALUES (?,?,?,?,?,?,?,?)", handoffs)


def analyze(db: sqlite3.Connection) -> None:
    """Refresh the query planner's statistics (after a bulk load)."""
    db.execute("ANALYZE")
