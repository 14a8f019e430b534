"""Salesforce task writes: per-record error classes, and adoption of an open leadsync task.

A task upsert answers one result per record. `UNABLE_TO_LOCK_ROW` (another transaction held a row
the save needed for longer than Salesforce's lock wait) is transient: the record stays in the
outbox and the next run sends it again. Every other per-record code is dead-lettered with
Salesforce's own statusCode, message and fields.

Before creating tasks, one SOQL query per batch (SOQL reads the database, never the search index)
finds open Tasks that already carry a leadsync key for the same WhoId: a task created under
another key (a state store that lost its recent writes) is adopted instead of duplicated.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import quote

from leadsync_salesforce.api import soql_string

__all__ = ["TRANSIENT_CODES", "describe_errors", "is_transient", "open_by_who", "open_task_queries"]

# Per-record status codes a later attempt can fix (see the plugin README for the sources).
TRANSIENT_CODES = frozenset({"UNABLE_TO_LOCK_ROW"})

# Salesforce caps URI + headers at 16,384 bytes (414/431 beyond); keep each look-up query's
# encoded text well below that, which fits a 200-record batch of 18-character ids in one query.
MAX_ENCODED_QUERY = 8000


def describe_errors(item: dict[str, Any]) -> str:
    """Salesforce's own detail of a failed record: 'CODE: message (field, field)'; ..."""
    errors = item.get("errors") or []
    parts = []
    for e in errors:
        fields = e.get("fields") or []
        parts.append(f"{e.get('statusCode')}: {e.get('message')}" + (f" ({', '.join(fields)})" if fields else ""))
    return "; ".join(parts) or "rejected by Salesforce"


def is_transient(item: dict[str, Any]) -> bool:
    """True when every error of a failed record is one a later attempt can fix."""
    codes = [str(e.get("statusCode")) for e in item.get("errors") or []]
    return bool(codes) and all(code in TRANSIENT_CODES for code in codes)


def open_task_queries(key_field: str, who_ids: Iterable[str], *, limit: int = MAX_ENCODED_QUERY) -> Iterator[str]:
    """SOQL for open leadsync Tasks of these WhoIds, as few queries as the URI budget allows."""
    head = f"SELECT Id, WhoId, {key_field}, CreatedDate FROM Task WHERE {key_field} != null AND IsClosed = false AND WhoId IN ("
    tail = ") ORDER BY CreatedDate ASC, Id ASC"
    budget = limit - len(quote(head + tail))
    chunk: list[str] = []
    used = 0
    for who in dict.fromkeys(who_ids):
        literal = soql_string(who)
        cost = len(quote(literal + ", "))
        if chunk and used + cost > budget:
            yield head + ", ".join(chunk) + tail
            chunk, used = [], 0
        chunk.append(literal)
        used += cost
    if chunk:
        yield head + ", ".join(chunk) + tail


def open_by_who(records: Sequence[dict[str, Any]], key_field: str) -> dict[str, list[dict[str, Any]]]:
    """WhoId -> its open leadsync Tasks, oldest first (records come ordered by CreatedDate, Id)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        who, key = record.get("WhoId"), record.get(key_field)
        if who and key:
            found.setdefault(str(who), []).append(record)
    return found
