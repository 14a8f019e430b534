"""Salesforce task creates: upsert by the leadsync key, and adoption of an open leadsync task.

Before writing, one SOQL query per batch (SOQL reads the database, never the search index) finds
the Tasks that already carry one of the batch's keys, open or closed, and the open leadsync Tasks
of the same WhoIds. A key that has its Task is never written again (a resend must not reopen a Task
sales completed, nor hand back one sales reassigned); a task created under another key (a state
store that lost its recent writes) is adopted instead of duplicated.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from leadsync.connectors import TaskRequest, WriteResult, normalize_email

from leadsync_salesforce.client import SalesforceClient, soql_string
from leadsync_salesforce.settings import SalesforceSettings
from leadsync_salesforce.writes import collection

__all__ = ["MAX_ENCODED_QUERY", "create_tasks", "look_up", "lookup_queries", "open_by_who"]

# Salesforce caps URI + headers at 16,384 bytes (414/431 beyond); keep each look-up query's
# encoded text below that with room for the headers: a 200-record batch (28-character keys and
# 18-character ids) fits in one query.
MAX_ENCODED_QUERY = 14_500


def lookup_queries(key_field: str, pairs: Iterable[tuple[str, str]], *, limit: int = MAX_ENCODED_QUERY) -> Iterator[str]:
    """SOQL for every Task carrying one of these keys (open or closed) and every open leadsync Task
    of one of these WhoIds, for (key, WhoId) pairs, in as few queries as the URI budget allows."""
    head = (f"SELECT Id, WhoId, {key_field}, IsClosed, CreatedDate FROM Task WHERE {key_field} != null AND "
            f"({key_field} IN (")
    middle, tail = ") OR (IsClosed = false AND WhoId IN (", "))) ORDER BY CreatedDate ASC, Id ASC"
    budget = limit - len(quote(head + middle + tail))
    keys: list[str] = []
    whos: list[str] = []
    used = 0
    for key, who in pairs:
        literals = (soql_string(key), soql_string(who))
        cost = sum(len(quote(lit + ", ")) for lit in literals)
        if keys and used + cost > budget:
            yield head + ", ".join(keys) + middle + ", ".join(dict.fromkeys(whos)) + tail
            keys, whos, used = [], [], 0
        keys.append(literals[0])
        whos.append(literals[1])
        used += cost
    if keys:
        yield head + ", ".join(keys) + middle + ", ".join(dict.fromkeys(whos)) + tail


def open_by_who(records: Sequence[dict[str, Any]], key_field: str) -> dict[str, list[dict[str, Any]]]:
    """WhoId -> its open leadsync Tasks, oldest first (records come ordered by CreatedDate, Id)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        who, key = record.get("WhoId"), record.get(key_field)
        if who and key:
            found.setdefault(str(who), []).append(record)
    return found


def _id15(record_id: str) -> str:
    """The case-sensitive 15-character form of a Salesforce id (18-character ids add a checksum)."""
    return str(record_id)[:15]


def lead_for(client: SalesforceClient, email: str) -> str | None:
    """The Lead with this e-mail, created when there is none (look before create)."""
    soql = f"SELECT Id FROM Lead WHERE Email = {soql_string(email)} AND IsConverted = false ORDER BY CreatedDate ASC LIMIT 1"
    for records in client.query(soql):
        if records:
            return str(records[0]["Id"])
    body = {"Email": email, "LastName": email.split("@")[0], "Company": email.split("@")[1]}
    response = client.http.post(f"{client.data_url}/sobjects/Lead", json=body)
    return str(client.json(response, "Lead create").get("id"))


def look_up(client: SalesforceClient, settings: SalesforceSettings,
            pairs: list[tuple[str, str]]) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """(key -> the oldest Task carrying it, whatever its status or owner; 15-character WhoId -> its
    open leadsync Tasks, oldest first), read with SOQL (the database, never the search index)."""
    key_field = settings.field("task_key")
    wanted = {key for key, _ in pairs}
    keyed: dict[str, dict[str, Any]] = {}
    open_tasks: list[dict[str, Any]] = []
    for soql in lookup_queries(key_field, pairs):
        for page in client.query(soql):
            for record in page:
                if record.get(key_field) in wanted:
                    keyed.setdefault(str(record[key_field]), record)
                if record.get("IsClosed") is False:
                    open_tasks.append(record)
    by_who: dict[str, list[dict[str, Any]]] = {}
    for who, tasks in open_by_who(open_tasks, key_field).items():
        by_who.setdefault(_id15(who), []).extend(tasks)
    return keyed, by_who


def create_tasks(
    client: SalesforceClient, settings: SalesforceSettings, timezone: str, tasks: Sequence[TaskRequest]
) -> list[WriteResult]:
    """Upsert one Task per request by its key; adopt an open leadsync task of the same lead."""
    zone = ZoneInfo(settings.org_timezone or timezone)
    key_field = settings.field("task_key")
    results: dict[str, WriteResult] = {}
    planned: list[tuple[TaskRequest, str]] = []
    for t in tasks:
        who = t.record_id
        email = normalize_email(t.email)
        if not who and email:
            who = lead_for(client, email)
        if not who:
            results[t.key] = WriteResult(t.key, False, error="no Salesforce Lead and no e-mail to create one")
            continue
        planned.append((t, who))
    # Look before writing: a Task that already carries the key (a lost answer, a kill) is never
    # upserted again, so a resend cannot reopen a Task sales completed or reassign one sales moved.
    # Adoption: an open leadsync task of the same lead under another key is that handoff's task.
    keyed, existing = look_up(client, settings, [(t.key, who) for t, who in planned]) if planned else ({}, {})
    records, keys = [], []
    for t, who in planned:
        if t.key in keyed:
            results[t.key] = WriteResult(t.key, True, external_id=keyed[t.key].get("Id"))
            continue
        open_tasks = existing.get(_id15(who)) or []
        if open_tasks:  # created under another key by a run whose local state was lost
            oldest = open_tasks[0]
            results[t.key] = WriteResult(t.key, True, external_id=oldest.get("Id"), adopted_key=str(oldest[key_field]))
            continue
        record = {"attributes": {"type": "Task"}, key_field: t.key, "WhoId": who,
                  "ActivityDate": t.due_at.astimezone(zone).date().isoformat(), "Subject": t.subject[:255],
                  "Description": t.body, "Priority": settings.task_priority, "Status": settings.task_status}
        if t.owner:
            record["OwnerId"] = t.owner
        records.append(record)
        keys.append(t.key)
    if records:
        # Upsert on the external id: a resend after a lost answer updates the same Task (200).
        for result in collection(client, "PATCH", f"/composite/sobjects/Task/{key_field}", records, keys):
            results[result.key] = result
    return [results[t.key] for t in tasks]
