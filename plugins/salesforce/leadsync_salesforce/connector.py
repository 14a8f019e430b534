"""The Salesforce connector: Lead and activity streams, score updates, task upserts, check and setup."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from leadsync.connectors import (
    Capability,
    CheckResult,
    ConnectionSettings,
    Connector,
    ConnectorError,
    Owner,
    ScoreUpdate,
    Stream,
    TaskRequest,
    WriteResult,
)

from leadsync_salesforce.client import SalesforceClient
from leadsync_salesforce.kpi_streams import sales_streams
from leadsync_salesforce.owners import resolve_owners
from leadsync_salesforce.settings import SalesforceSettings
from leadsync_salesforce.streams import build_streams
from leadsync_salesforce.tasks import create_tasks
from leadsync_salesforce.writes import MAX_RECORDS, push_scores, unless_busy

__all__ = ["SalesforceConnector"]

_SCORE_FIELDS = ("score", "behavior_score", "attribute_score", "segment", "sheet_version", "scored_at")


class SalesforceConnector(Connector):
    """Salesforce Sales Cloud: Lead in; Leadsync_* Lead fields and Tasks (upsert by Leadsync_Key__c) out."""

    name: ClassVar[str] = "salesforce"
    settings_model: ClassVar[type[ConnectionSettings]] = SalesforceSettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.LEADS, Capability.ACTIVITIES, Capability.SCORES, Capability.TASKS}
    )
    batch_sizes: ClassVar[dict[str, int]] = {"scores": MAX_RECORDS, "tasks": MAX_RECORDS}

    settings: SalesforceSettings
    client: SalesforceClient

    def open_client(self) -> SalesforceClient:
        return SalesforceClient(self.settings, self.transport, self.sleep)

    def _roles(self) -> set[str]:
        return {c.value for c in self.roles()}

    def streams(self) -> list[Stream]:
        roles = self._roles()
        return sales_streams(build_streams(self.client, self.settings, self.connection, roles), self.client,
                             self.settings, self.connection, self.timezone, roles)

    # --- writes ----------------------------------------------------------------------------
    def push_scores(self, updates: Sequence[ScoreUpdate]) -> list[WriteResult]:
        return unless_busy([u.key for u in updates], lambda: push_scores(self.client, self.settings, updates))

    def create_tasks(self, tasks: Sequence[TaskRequest]) -> list[WriteResult]:
        return unless_busy([t.key for t in tasks], lambda: create_tasks(self.client, self.settings, self.timezone, tasks))

    def resolve_owners(self, refs: Sequence[str]) -> dict[str, Owner]:
        return resolve_owners(self.client, refs)

    # --- operations ------------------------------------------------------------------------
    def _describe(self, obj: str) -> dict[str, dict[str, Any]]:
        payload = self.client.json(self.client.http.get(f"{self.client.data_url}/sobjects/{obj}/describe"), f"{obj} describe")
        return {f.get("name"): f for f in (payload or {}).get("fields") or []}

    def check(self) -> CheckResult:
        result = CheckResult(ok=True)
        try:
            lead_fields = self._describe("Lead")
            result.add("credentials", True, f"instance {self.client.instance()}")
        except ConnectorError as exc:
            result.add("credentials", False, str(exc))
            return result
        roles = self._roles()
        if "scores" in roles:
            for name in (self.settings.field(k) for k in _SCORE_FIELDS):
                result.add(f"Lead.{name}", name in lead_fields, "" if name in lead_fields else "missing: see `leadsync connections setup`")
        if "tasks" in roles:
            # Upsert by a field needs it to be an External ID; Unique is not demanded (an org may not
            # offer it on Activity fields): a resend looks the key up before writing anything.
            key = self.settings.field("task_key")
            found = self._describe("Task").get(key)
            good = bool(found and found.get("externalId"))
            detail = ("missing: see `leadsync connections setup`" if not found else
                      "must be an External ID (upsert needs it)" if not good else
                      "External ID" + (", Unique" if found.get("unique") else ""))
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
            f"  {key}: Text(80), tick 'External ID' (and 'Unique', case sensitive, if your org offers it)",
            "Give the integration user's profile or permission set edit access to these fields, then run "
            "`leadsync connections check`.",
        ]

    def clock_skew(self) -> float | None:
        return self.client.http.clock_skew_s
