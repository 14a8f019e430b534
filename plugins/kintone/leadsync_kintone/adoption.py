"""The look-up before a batch of task creates: records already carrying a key, and open leadsync
To-Do records of the same leads.

One records query per batch (the records API reads the app's records, not a search index; split
only when the URL would grow too long, paged by ``$id`` past 500 records) finds

* every To-Do record that carries one of the batch's keys, whatever its status or owner: that key
  already has its task (a lost answer, a kill), so nothing is written and sales' changes stand;
* the open To-Do records that carry a leadsync key for the same lead (by lead record id or e-mail):
  a state store that lost its recent writes plans a handoff again under a new key, and the oldest
  such record is adopted instead of creating a second task. A record whose status is in
  ``task_done_values`` is not adopted.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from leadsync_kintone.client import KintoneClient
from leadsync_kintone.mapping import field_value
from leadsync_kintone.settings import KintoneSettings

__all__ = ["MAX_ENCODED_QUERY", "LookUp", "Wanted", "look_up", "lookup_queries", "quote_value"]

# kintone refuses a request URL over 8 KB (414); keep each look-up's encoded query below it with
# room for the path, `app` and the `fields[i]` parameters (about 300 bytes with Japanese codes).
# A batch of 100 keys with lead record ids is one query; with e-mails too, two.
MAX_ENCODED_QUERY = 7000


def quote_value(value: str) -> str:
    """A kintone query string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Wanted:
    """One task of the batch as the look-up sees it: its update-key value and its lead."""

    key: str
    record_id: str = ""
    email: str = ""


TaskRecord = dict[str, Any]  # a To-Do record: id, key, lead_record_id, email, open


@dataclass
class LookUp:
    """What one look-up found: key -> its record (any status); lead -> open leadsync records."""

    keyed: dict[str, TaskRecord] = field(default_factory=dict)
    open_by_lead: dict[tuple[str, str], list[TaskRecord]] = field(default_factory=dict)

    def open_of(self, record_id: str | None, email: str | None) -> list[TaskRecord]:
        """Open leadsync records of a lead (by record id, then e-mail), oldest first, no repeats."""
        found = (self.open_by_lead.get(("id", str(record_id)), []) if record_id else []) + \
            (self.open_by_lead.get(("email", email.lower()), []) if email else [])
        unique = {int(r["id"]): r for r in found}
        return [unique[i] for i in sorted(unique)]


def _done_clause(settings: KintoneSettings) -> str:
    f = settings.task_field
    if f("status") and settings.task_done_values:
        return f'{f("status")} not in ({", ".join(quote_value(v) for v in settings.task_done_values)})'
    return ""


def _render(settings: KintoneSettings, chunk: Sequence[Wanted]) -> str:
    f = settings.task_field
    key_values = [quote_value(w.key) for w in dict.fromkeys(chunk)]
    by_lead = [(f("lead_record_id"), [w.record_id for w in chunk if w.record_id]),
               (f("email"), [w.email for w in chunk if w.email])]
    lead_terms = [f"{code} in ({', '.join(quote_value(v) for v in dict.fromkeys(values))})"
                  for code, values in by_lead if code and values]
    alternatives = [f'{f("key")} in ({", ".join(key_values)})']
    if lead_terms:
        done = _done_clause(settings)
        leads = " or ".join(lead_terms)
        alternatives.append(f"({done} and ({leads}))" if done else f"({leads})")
    return f'{f("key")} != "" and ({" or ".join(alternatives)})'


def lookup_queries(settings: KintoneSettings, wanted: Sequence[Wanted], *, limit: int = MAX_ENCODED_QUERY) -> Iterator[str]:
    """Conditions covering every key of `wanted` (any status) and the open leadsync records of
    their leads, as few as the URL budget allows (the seek's `$id` clause and paging included)."""
    chunk: list[Wanted] = []
    for item in wanted:
        if chunk and len(quote(_render(settings, [*chunk, item]) + " and $id > 0000000000 order by $id asc limit 500")) > limit:
            yield _render(settings, chunk)
            chunk = []
        chunk.append(item)
    if chunk:
        yield _render(settings, chunk)


def look_up(client: KintoneClient, settings: KintoneSettings, wanted: Sequence[Wanted]) -> LookUp:
    """Read the To-Do records `lookup_queries` names, through the records API (never a search)."""
    assert settings.tasks_app is not None
    f = settings.task_field
    done = set(settings.task_done_values) if f("status") else set()
    codes = [c for c in ("$id", f("key"), f("lead_record_id"), f("email"), f("status")) if c]
    keys = {w.key for w in wanted}
    found: dict[int, TaskRecord] = {}
    for condition in lookup_queries(settings, wanted):
        for page in client.seek(settings.tasks_app, condition, codes, 0):
            for raw in page:
                record_id = int(raw["$id"]["value"])
                status = field_value(raw, f("status")) if f("status") else ""
                found[record_id] = {"id": str(record_id), "key": field_value(raw, f("key")),
                                    "lead_record_id": field_value(raw, f("lead_record_id")),
                                    "email": field_value(raw, f("email")), "open": status not in done}
    result = LookUp()
    for record_id in sorted(found):  # oldest first
        record = found[record_id]
        if record["key"] in keys:
            result.keyed.setdefault(str(record["key"]), record)
        if not record["open"] or not record["key"]:
            continue
        if record.get("lead_record_id"):
            result.open_by_lead.setdefault(("id", str(record["lead_record_id"])), []).append(record)
        if record.get("email"):
            result.open_by_lead.setdefault(("email", str(record["email"]).lower()), []).append(record)
    return result
