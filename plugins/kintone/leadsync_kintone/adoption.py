"""Open leadsync To-Do records of the same leads, read before creating tasks (adoption).

A state store that lost its recent writes plans a handoff again under a new key. Before creating,
one records query per batch (the records API reads the app's records, not a search index) finds
open To-Do records that carry a leadsync key for the same lead (by lead record id or e-mail); the
oldest is adopted instead of creating a second task. Completed records (status in
``task_done_values``) are not adopted.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote

from leadsync_kintone.client import KintoneClient
from leadsync_kintone.settings import KintoneSettings
from leadsync_kintone.mapping import field_value

__all__ = ["MAX_ENCODED_QUERY", "OpenTask", "by_lead", "lookup_queries", "open_tasks", "quote_value"]

# kintone refuses a request URL over 8 KB (414); keep each look-up's encoded query well below it.
MAX_ENCODED_QUERY = 6000


def quote_value(value: str) -> str:
    """A kintone query string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


OpenTask = dict[str, Any]  # an open To-Do record: id, key, lead_record_id, email


def _base(settings: KintoneSettings) -> str:
    f = settings.task_field
    clauses = [f'{f("key")} != ""']
    if f("status") and settings.task_done_values:
        clauses.append(f'{f("status")} not in ({", ".join(quote_value(v) for v in settings.task_done_values)})')
    return " and ".join(clauses)


def lookup_queries(settings: KintoneSettings, record_ids: Sequence[str], emails: Sequence[str],
                   *, limit: int = MAX_ENCODED_QUERY) -> Iterator[str]:
    """Conditions for open leadsync records of these leads, as few as the URL budget allows."""
    f = settings.task_field
    base = _base(settings)
    terms = [(f("lead_record_id"), v) for v in dict.fromkeys(record_ids) if v and f("lead_record_id")]
    terms += [(f("email"), v) for v in dict.fromkeys(emails) if v and f("email")]

    def render(chunk: list[tuple[str, str]]) -> str:
        by_code: dict[str, list[str]] = {}
        for code, value in chunk:
            by_code.setdefault(code, []).append(quote_value(value))
        alternatives = " or ".join(f"{code} in ({', '.join(values)})" for code, values in by_code.items())
        return f"{base} and ({alternatives})"

    chunk: list[tuple[str, str]] = []
    for term in terms:
        if chunk and len(quote(render([*chunk, term]) + " and $id > 0000000000 order by $id asc limit 500")) > limit:
            yield render(chunk)
            chunk = []
        chunk.append(term)
    if chunk:
        yield render(chunk)


def open_tasks(client: KintoneClient, settings: KintoneSettings, record_ids: Sequence[str],
               emails: Sequence[str]) -> list[OpenTask]:
    """Open leadsync To-Do records of these leads, oldest ($id) first."""
    assert settings.tasks_app is not None
    f = settings.task_field
    codes = [c for c in ("$id", f("key"), f("lead_record_id"), f("email")) if c]
    found: dict[int, OpenTask] = {}
    for condition in lookup_queries(settings, record_ids, emails):
        for page in client.seek(settings.tasks_app, condition, codes, 0):
            for raw in page:
                record_id = int(raw["$id"]["value"])
                found[record_id] = {"id": str(record_id), "key": field_value(raw, f("key")),
                                    "lead_record_id": field_value(raw, f("lead_record_id")),
                                    "email": field_value(raw, f("email"))}
    return [found[i] for i in sorted(found)]


def by_lead(tasks: Sequence[OpenTask]) -> dict[tuple[str, str], list[OpenTask]]:
    """('id', record id) / ('email', e-mail) -> open tasks, oldest first."""
    index: dict[tuple[str, str], list[OpenTask]] = {}
    for task in tasks:
        if task.get("lead_record_id"):
            index.setdefault(("id", str(task["lead_record_id"])), []).append(task)
        if task.get("email"):
            index.setdefault(("email", str(task["email"]).lower()), []).append(task)
    return index


