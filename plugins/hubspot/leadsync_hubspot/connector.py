"""The HubSpot connector: streams, writes, and the check and setup of its custom properties."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from leadsync.connectors import (
    Capability,
    CheckResult,
    ConnectionSettings,
    Connector,
    ConnectorError,
    HttpClient,
    HttpStatusError,
    Owner,
    RemovedTask,
    ScoreUpdate,
    Stream,
    TaskCheck,
    TaskRequest,
    WriteResult,
)

from leadsync_hubspot import owners, tasks, writes
from leadsync_hubspot.client import build_client
from leadsync_hubspot.settings import HubSpotSettings
from leadsync_hubspot.kpi_streams import sales_streams
from leadsync_hubspot.streams import ContactsStream, TaskCompletionStream

__all__ = ["HubSpotConnector"]

# canonical field -> (label, type, fieldType) of the contact properties leadsync writes
_SCORE_PROPERTIES = {
    "score": ("leadsync score", "number", "number"),
    "behavior_score": ("leadsync behaviour score", "number", "number"),
    "attribute_score": ("leadsync attribute score", "number", "number"),
    "segment": ("leadsync segment", "string", "text"),
    "sheet_version": ("leadsync sheet version", "string", "text"),
    "scored_at": ("leadsync scored at", "datetime", "date"),
}
_PREFERRED_GROUPS = {"contacts": "contactinformation", "tasks": "taskinformation"}


class HubSpotConnector(Connector):
    """HubSpot CRM: contacts and engagements in; leadsync_* contact properties and tasks out."""

    name: ClassVar[str] = "hubspot"
    settings_model: ClassVar[type[ConnectionSettings]] = HubSpotSettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.LEADS, Capability.ACTIVITIES, Capability.SCORES, Capability.TASKS}
    )
    batch_sizes: ClassVar[dict[str, int]] = {"scores": 100, "tasks": 100}
    # A score batch takes a round trip plus HubSpot's work on 100 records, longer than the gap the
    # budget leaves between two calls (53 ms at 190 per 10 s): with one in flight the push is
    # latency-bound. Two cover it (2 x 53 ms > one batch); three measured no faster and drew more
    # 429s from arrival jitter (bench/README.md, "First sync, second pass").
    write_concurrency: ClassVar[int] = 2

    settings: HubSpotSettings
    client: HttpClient

    def open_client(self) -> HttpClient:
        return build_client(self.settings, self.transport, self.sleep)

    def read_after_write_lag(self) -> float:
        # Look-before-create reads the primary store, so nothing waits for the search index. This
        # optional pause only gives HubSpot time to apply a create whose answer was lost before it
        # is sent again (which would leave a duplicate for `reconcile_tasks` to archive).
        return self.settings.index_settle_s

    def streams(self) -> list[Stream]:
        roles = self.roles()
        found: list[Stream] = []
        if Capability.LEADS in roles:
            found.append(ContactsStream(self.client, self.settings, self.connection))
        if Capability.ACTIVITIES in roles:
            found += sales_streams(self.client, self.settings, self.connection)
        if Capability.TASKS in roles:
            found.append(TaskCompletionStream(self.client, self.settings, self.connection))
        return found

    def push_scores(self, updates: Sequence[ScoreUpdate]) -> list[WriteResult]:
        return writes.push_scores(self.client, self.settings, updates)

    def create_tasks(self, requests: Sequence[TaskRequest]) -> list[WriteResult]:
        return tasks.create_tasks(self.client, self.settings, requests)

    def reconcile_tasks(self, checks: Sequence[TaskCheck]) -> list[RemovedTask]:
        return tasks.reconcile_tasks(self.client, self.settings, checks)

    def resolve_owners(self, refs: Sequence[str]) -> dict[str, Owner]:
        return owners.resolve_owners(self.client, refs)

    # --- operations ------------------------------------------------------------------------
    def _required(self) -> list[tuple[str, str]]:
        """(object type, property name) of every custom property the roles need."""
        roles = self.roles()
        needed: list[tuple[str, str]] = []
        if Capability.SCORES in roles:
            needed += [("contacts", self.settings.field(k)) for k in _SCORE_PROPERTIES]
        if Capability.TASKS in roles:
            needed.append(("tasks", self.settings.field("task_key")))
        return needed

    def _exists(self, object_type: str, name: str) -> bool:
        try:
            self.client.get(f"/crm/v3/properties/{object_type}/{name}")
            return True
        except HttpStatusError as exc:
            if exc.status == 404:
                return False
            raise

    def check(self) -> CheckResult:
        result = CheckResult(ok=True)
        try:
            self.client.get("/crm/v3/objects/contacts", params={"limit": 1})
            result.add("credentials", True, "contacts readable")
        except ConnectorError as exc:
            result.add("credentials", False, str(exc))
            return result
        for object_type, name in self._required():
            try:
                present = self._exists(object_type, name)
                result.add(f"{object_type} property {name}", present, "" if present else "missing: run `leadsync connections setup`")
            except ConnectorError as exc:
                result.add(f"{object_type} property {name}", False, str(exc))
        return result

    def _group(self, object_type: str) -> str:
        payload: Any = self.client.get(f"/crm/v3/properties/{object_type}/groups").json()
        names = [g.get("name") for g in (payload or {}).get("results") or [] if g.get("name")]
        preferred = _PREFERRED_GROUPS.get(object_type)
        if preferred in names or not names:
            return preferred or "leadsync"
        return str(names[0])

    def setup(self) -> list[str]:
        done: list[str] = []
        groups: dict[str, str] = {}
        for object_type, name in self._required():
            if self._exists(object_type, name):
                done.append(f"{object_type} property {name} already exists")
                continue
            canonical = next((k for k in _SCORE_PROPERTIES if self.settings.field(k) == name), None)
            label, kind, field_type = (
                _SCORE_PROPERTIES[canonical] if canonical else ("leadsync key", "string", "text")
            )
            group = groups.setdefault(object_type, self._group(object_type))
            body = {"name": name, "label": label, "type": kind, "fieldType": field_type, "groupName": group}
            try:
                self.client.post(f"/crm/v3/properties/{object_type}", json=body, idempotent=True)
            except HttpStatusError as exc:
                if exc.status != 409:  # 409: a resent create that had landed
                    raise
            done.append(f"created {object_type} property {name} ({kind}) in group {group}")
        return done

    def clock_skew(self) -> float | None:
        return self.client.clock_skew_s
