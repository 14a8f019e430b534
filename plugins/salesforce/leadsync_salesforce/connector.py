"""The Salesforce connector: Lead and activity streams, score updates, task upserts, check and setup."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import httpx

from leadsync.connectors.base import (
    Capability,
    CheckResult,
    ConnectionSettings,
    Connector,
    ScoreUpdate,
    Stream,
    TaskRequest,
    WriteResult,
)
from leadsync.connectors.errors import ClientError, ConnectorError
from leadsync.core.normalize import normalize_email

from leadsync_salesforce.api import SalesforceApi, soql_string
from leadsync_salesforce.settings import SalesforceSettings
from leadsync_salesforce.kpi_streams import sales_streams
from leadsync_salesforce.streams import build_streams
from leadsync_salesforce.tasks import describe_errors, is_transient, open_by_who, open_task_queries

__all__ = ["SalesforceConnector"]

MAX_RECORDS = 200  # sObject Collections limit
_SCORE_FIELDS = ("score", "behavior_score", "attribute_score", "segment", "sheet_version", "scored_at")


def _id15(record_id: str) -> str:
    """The case-sensitive 15-character form of a Salesforce id (18-character ids add a checksum)."""
    return str(record_id)[:15]


class SalesforceConnector(Connector):
    """Salesforce Sales Cloud: Lead in; Leadsync_* Lead fields and Tasks (upsert by Leadsync_Key__c) out."""

    name: ClassVar[str] = "salesforce"
    settings_model: ClassVar[type[ConnectionSettings]] = SalesforceSettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.LEADS, Capability.ACTIVITIES, Capability.SCORES, Capability.TASKS}
    )
    batch_sizes: ClassVar[dict[str, int]] = {"scores": MAX_RECORDS, "tasks": MAX_RECORDS}

    def __init__(self, connection: str, settings: ConnectionSettings, *, timezone: str = "UTC",
                 transport: httpx.BaseTransport | None = None) -> None:
        if not isinstance(settings, SalesforceSettings):
            settings = SalesforceSettings.model_validate(settings.model_dump())
        super().__init__(connection, settings, timezone=timezone)
        self.settings: SalesforceSettings = settings
        self.api = SalesforceApi(settings, transport)

    def _roles(self) -> set[str]:
        return {c.value for c in (self.settings.roles or self.capabilities)}

    def streams(self) -> list[Stream]:
        roles = self._roles()
        return sales_streams(build_streams(self.api, self.settings, self.connection, roles), self.api, self.settings,
                             self.connection, self.timezone, roles)

    # --- writes ----------------------------------------------------------------------------
    def _collection(self, method: str, path: str, records: list[dict[str, Any]], keys: list[str]) -> list[WriteResult]:
        try:
            response = self.api.client.request(method, f"{self.api.data_url}{path}", json={"allOrNone": False, "records": records})
        except ClientError as exc:  # a malformed request: nothing was applied
            reason = "; ".join(f"{e.get('errorCode')}: {e.get('message')}" for e in exc.json or [] if isinstance(e, dict)) or str(exc)
            return [WriteResult(k, False, error=reason) for k in keys]
        answer = self.api.json(response, "sObject Collections")
        if not isinstance(answer, list) or len(answer) != len(records):
            raise ConnectorError(f"Salesforce answered {path} with {type(answer).__name__}, not one result per record")
        # Results come back in input order (documented for sObject Collections).
        # A transient per-record error (a row lock) stays in the outbox for the next run.
        return [WriteResult(k, True, external_id=item.get("id")) if item.get("success")
                else WriteResult(k, False, error=describe_errors(item), retryable=is_transient(item))
                for k, item in zip(keys, answer)]

    def push_scores(self, updates: Sequence[ScoreUpdate]) -> list[WriteResult]:
        f = self.settings.field
        results: dict[str, WriteResult] = {}
        records, keys = [], []
        for u in updates:
            if not u.record_id:
                results[u.key] = WriteResult(u.key, False, error="no Salesforce Lead id for this lead")
                continue
            records.append({"attributes": {"type": "Lead"}, "id": u.record_id, f("score"): u.score,
                            f("behavior_score"): u.behavior_score, f("attribute_score"): u.attribute_score,
                            f("segment"): u.segment.value, f("sheet_version"): u.sheet_version,
                            f("scored_at"): u.scored_at.isoformat(timespec="seconds")})
            keys.append(u.key)
        if records:
            for result in self._collection("PATCH", "/composite/sobjects", records, keys):
                results[result.key] = result
        return [results[u.key] for u in updates]

    def _lead_for(self, email: str) -> str | None:
        """The Lead with this e-mail, created when there is none (look before create)."""
        soql = f"SELECT Id FROM Lead WHERE Email = {soql_string(email)} AND IsConverted = false ORDER BY CreatedDate ASC LIMIT 1"
        for records in self.api.query(soql):
            if records:
                return str(records[0]["Id"])
        body = {"Email": email, "LastName": email.split("@")[0], "Company": email.split("@")[1]}
        response = self.api.client.post(f"{self.api.data_url}/sobjects/Lead", json=body)
        return str(self.api.json(response, "Lead create").get("id"))

    def _open_tasks(self, who_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """15-character WhoId -> its open Tasks carrying a leadsync key, oldest first (SOQL: the database)."""
        key_field = self.settings.field("task_key")
        records: list[dict[str, Any]] = []
        for soql in open_task_queries(key_field, who_ids):
            for page in self.api.query(soql):
                records.extend(page)
        found: dict[str, list[dict[str, Any]]] = {}
        for who, tasks in open_by_who(records, key_field).items():
            found.setdefault(_id15(who), []).extend(tasks)
        return found

    def create_tasks(self, tasks: Sequence[TaskRequest]) -> list[WriteResult]:
        zone = ZoneInfo(self.settings.org_timezone or self.timezone)
        key_field = self.settings.field("task_key")
        results: dict[str, WriteResult] = {}
        planned: list[tuple[TaskRequest, str]] = []
        for t in tasks:
            who = t.record_id
            email = normalize_email(t.email)
            if not who and email:
                who = self._lead_for(email)
            if not who:
                results[t.key] = WriteResult(t.key, False, error="no Salesforce Lead and no e-mail to create one")
                continue
            planned.append((t, who))
        # Adoption: an open leadsync task of the same lead under another key is that handoff's task.
        existing = self._open_tasks([who for _, who in planned]) if planned else {}
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
                      "Description": t.body, "Priority": self.settings.task_priority, "Status": self.settings.task_status}
            if t.owner:
                record["OwnerId"] = t.owner
            records.append(record)
            keys.append(t.key)
        if records:
            # Upsert on the external id: a resend after a lost answer updates the same Task (200).
            for result in self._collection("PATCH", f"/composite/sobjects/Task/{key_field}", records, keys):
                results[result.key] = result
        return [results[t.key] for t in tasks]

    # --- operations ------------------------------------------------------------------------
    def _describe(self, obj: str) -> dict[str, dict[str, Any]]:
        payload = self.api.json(self.api.client.get(f"{self.api.data_url}/sobjects/{obj}/describe"), f"{obj} describe")
        return {f.get("name"): f for f in (payload or {}).get("fields") or []}

    def check(self) -> CheckResult:
        result = CheckResult(ok=True)
        try:
            lead_fields = self._describe("Lead")
            result.add("credentials", True, f"instance {self.api.instance()}")
        except ConnectorError as exc:
            result.add("credentials", False, str(exc))
            return result
        roles = self._roles()
        if "scores" in roles:
            for name in (self.settings.field(k) for k in _SCORE_FIELDS):
                result.add(f"Lead.{name}", name in lead_fields, "" if name in lead_fields else "missing: see `leadsync connections setup`")
        if "tasks" in roles:
            key = self.settings.field("task_key")
            found = self._describe("Task").get(key)
            good = bool(found and found.get("externalId") and found.get("unique"))
            detail = "" if good else ("missing" if not found else "must be External ID and Unique")
            result.add(f"Task.{key}", good, detail)
        return result

    def setup(self) -> list[str]:
        f = self.settings.field
        key = f("task_key")
        return [
            "Salesforce custom fields are created in Setup (leadsync does not change org metadata):",
            "Setup > Object Manager > Lead > Fields & Relationships > New:",
            f"  {f('score')}: Number(3, 0)   {f('behavior_score')}: Number(3, 0)   {f('attribute_score')}: Number(3, 0)",
            f"  {f('segment')}: Text(10)   {f('sheet_version')}: Text(40)   {f('scored_at')}: Date/Time",
            "Setup > Object Manager > Activity > Fields & Relationships > New:",
            f"  {key}: Text(80), tick 'Unique' (case sensitive) and 'External ID'",
            "Give the integration user's profile or permission set edit access to these fields, then run "
            "`leadsync connections check`.",
        ]

    def close(self) -> None:
        self.api.close()
