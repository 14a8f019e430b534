"""Salesforce task creates: upsert by the leadsync key, and adoption of an open leadsync task.

Before creating tasks, one SOQL query per batch (SOQL reads the database, never the search index)
finds open Tasks that already carry a leadsync key for the same WhoId: a task created under
another key (a state store that lost its recent writes) is adopted instead of duplicated.
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

__all__ = ["MAX_ENCODED_QUERY", "create_tasks", "open_by_who", "open_task_queries"]

# Salesforce caps URI + headers at 16,384 bytes (414/431 beyond); keep each look-up query's
# encoded text well below that, which fits a 200-record batch of 18-character ids in one query.
MAX_ENCODED_QUERY = 8000


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


def open_tasks_of(client: SalesforceClient, settings: SalesforceSettings, who_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """15-character WhoId -> its open Tasks carrying a leadsync key, oldest first (SOQL: the database)."""
    key_field = settings.field("task_key")
    records: list[dict[str, Any]] = []
    for soql in open_task_queries(key_field, who_ids):
        for page in client.query(soql):
            records.extend(page)
    found: dict[str, list[dict[str, Any]]] = {}
    for who, tasks in open_by_who(records, key_field).items():
        found.setdefault(_id15(who), []).extend(tasks)
    return found


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
    # Adoption: an open leadsync task of the same lead under another key is that handoff's task.
    existing = open_tasks_of(client, settings, [who for _, who in planned]) if planned else {}
    records, keys = [], []
    for t, who in planned:
        open_tasks = existing.get(_id15(who)) or []
        same = [task for task in open_tasks if task.get(key_field) == t.key]
        if same:  # already created (an answer lost, a kill): nothing to send
            results[t.key] = WriteResult(t.key, True, external_id=same[0].get("Id"))
            continue
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
