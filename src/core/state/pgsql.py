"""The PostgreSQL dialect of the state layer's statements.

The group modules write SQLite SQL. `translate` turns a statement into PostgreSQL once (cached):
`?` placeholders become `%s`, `INSERT OR IGNORE` becomes `ON CONFLICT DO NOTHING`, `IS ?` becomes
`IS NOT DISTINCT FROM`, SQLite's REAL columns of temporary tables become DOUBLE PRECISION, and the
few SQLite-only fragments listed in `_FRAGMENTS` get their PostgreSQL equivalents. `rowid` needs
no change: the PostgreSQL schema gives `leads` and `activities` an identity column of that name,
and `json_extract(text, path)` and SQLite's `total()` aggregate are functions of each project's
schema (pg_migrations.py).
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["translate"]

# SQLite fragment -> PostgreSQL fragment, applied literally before the generic rewrites.
_FRAGMENTS: list[tuple[str, str]] = [
    # scores.write: the chunk's temporary table may be filled twice with a key
    ("INSERT OR REPLACE INTO scoring_new VALUES (?,?,?,?,?,?,?,?,?,?)",
     "INSERT INTO scoring_new VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT (lead_key) DO UPDATE SET "
     "total = excluded.total, behavior = excluded.behavior, attribute = excluded.attribute, "
     "segment = excluded.segment, sheet_version = excluded.sheet_version, scored_at = excluded.scored_at, "
     "next_change_at = excluded.next_change_at, breakdown = excluded.breakdown, reason = excluded.reason"),
    # quality.set_conflicts: PostgreSQL wants the target row named
    ("WHERE vals != excluded.vals", "WHERE quality_conflicts.vals != excluded.vals"),
    # dead_letters.add_once: the minimum of a condition, 0 or 1
    ("MIN(requeued_at IS NOT NULL)", "MIN((requeued_at IS NOT NULL)::int)"),
    # notices.unsend: SQLite's two-argument MAX is GREATEST
    ("MAX(sends - 1, 0)", "GREATEST(sends - 1, 0)"),
    # handoffs.save_orphan: SQLite's two-argument MIN is LEAST
    ("MIN(orphan_completions.completed_at, excluded.completed_at)",
     "LEAST(orphan_completions.completed_at, excluded.completed_at)"),
    # outbox.mark_sending / requeue: JSON edits of the payload
    ("json_remove(payload, '$.retry_ambiguous')", "(payload::jsonb - 'retry_ambiguous')::text"),
    ("json_set(payload, '$.retry_ambiguous', json('true'))",
     "jsonb_set(payload::jsonb, '{retry_ambiguous}', 'true'::jsonb)::text"),
    # a list of keys passed as one JSON array
    ("SELECT value FROM json_each(?)", "SELECT value FROM json_array_elements_text(?::json) AS value"),
    # SQLite's CAST(real AS INTEGER) truncates; PostgreSQL's rounds
    ("CAST((x.occurred_at + ?) / 86400 AS INTEGER)", "FLOOR((x.occurred_at + ?) / 86400)::bigint"),
    ("CAST((x.occurred_at + ?) / 3600 AS INTEGER)", "FLOOR((x.occurred_at + ?) / 3600)::bigint"),
    ("CAST(h.score / 10 AS INTEGER)", "(h.score / 10)"),
    ("json_each(o.breakdown) j", "json_array_elements(o.breakdown::json) AS j(value)"),
    ("json_extract(j.value, '$.rule')", "(j.value ->> 'rule')"),
]

_INSERT_OR_IGNORE = re.compile(r"^\s*INSERT\s+OR\s+IGNORE\s+INTO\b", re.IGNORECASE)
_IS_PARAM = re.compile(r"\bIS\s+\?", re.IGNORECASE)
_REAL = re.compile(r"\bREAL\b")


def _placeholders(sql: str) -> str:
    """`?` -> `%s` and `%` -> `%%`, outside quoted literals."""
    out: list[str] = []
    quote: str | None = None
    for char in sql:
        if quote:
            out.append("%%" if char == "%" else char)
            if char == quote:
                quote = None
        elif char in ("'", '"'):
            quote = char
            out.append(char)
        elif char == "?":
            out.append("%s")
        elif char == "%":
            out.append("%%")
        else:
            out.append(char)
    return "".join(out)


@lru_cache(maxsize=1024)
def translate(sql: str, with_params: bool = True) -> str:
    """The PostgreSQL form of one SQLite statement of the state layer."""
    for sqlite_form, pg_form in _FRAGMENTS:
        if sqlite_form in sql:
            sql = sql.replace(sqlite_form, pg_form)
    if _INSERT_OR_IGNORE.match(sql):
        sql = _INSERT_OR_IGNORE.sub("INSERT INTO", sql, count=1).rstrip() + " ON CONFLICT DO NOTHING"
    if "?" in sql:
        sql = _IS_PARAM.sub("IS NOT DISTINCT FROM ?", sql)
    if sql.lstrip().upper().startswith("CREATE"):
        sql = _REAL.sub("DOUBLE PRECISION", sql)
    return _placeholders(sql) if with_params else sql
