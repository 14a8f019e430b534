"""The Salesforce streams: leads (and those deleted or merged away), activities (Task, Event,
CampaignMember) and completed leadsync tasks.

Every stream reads one SOQL query ordered by (SystemModstamp, Id) and resumes by that keyset, so
records sharing one timestamp (bulk updates, whole-second precision) are neither lost nor looped.
"""

from __future__ import annotations

from collections.abc import Iterator

from leadsync.connectors import Incremental, Page, ReadContext, RemovedLead, Stream
from leadsync.core.models import Lead

from leadsync_salesforce.client import SalesforceClient, parse_sf_datetime, soql_datetime, soql_string
from leadsync_salesforce.mapping import Mapper, Mappers, Record
from leadsync_salesforce.settings import SalesforceSettings

__all__ = ["RemovedLeadStream", "SoqlStream", "build_streams", "keyset_soql"]

_IN_CHUNK = 200  # ids per IN (...) look-up, well inside SOQL's 100,000-character limit


def keyset_soql(obj: str, fields: list[str], ctx: ReadContext, where: str = "") -> str:
    """SELECT ... changed after the cursor's (SystemModstamp, Id) and up to the signpost."""
    clauses = [where] if where else []
    cursor = None if ctx.full_refresh else ctx.cursor
    stored = parse_sf_datetime(cursor["ts"]) if cursor and cursor.get("ts") else None
    window = Incremental.of(ctx, stored)
    if cursor and stored is not None:
        if cursor.get("id") and not cursor.get("fresh"):
            stamp = soql_datetime(stored)
            clauses.append(f"(SystemModstamp > {stamp} OR (SystemModstamp = {stamp} AND Id > {soql_string(cursor['id'])}))")
        elif window.start is not None:
            clauses.append(f"SystemModstamp >= {soql_datetime(window.start)}")
    clauses.append(f"SystemModstamp <= {soql_datetime(window.end)}")
    selected = ", ".join(dict.fromkeys(["Id", "SystemModstamp", *fields]))
    return f"SELECT {selected} FROM {obj} WHERE {' AND '.join(clauses)} ORDER BY SystemModstamp ASC, Id ASC"


class SoqlStream(Stream):
    """One object's changes as pages; the cursor is the last record's (SystemModstamp, Id)."""

    include_deleted = False  # True: read through queryAll (the recycle bin too)

    def __init__(self, name: str, client: SalesforceClient, obj: str, fields: list[str], mapper: Mapper, where: str = "") -> None:
        self.name = name  # type: ignore[misc]
        self.client, self.obj, self.fields, self.mapper, self.where = client, obj, fields, mapper, where

    def batches(self, ctx: ReadContext) -> Iterator[tuple[list[Record], dict[str, str]]]:
        """The raw records of each answer, with the cursor after them."""
        # A new run re-reads `lookback` behind the stored keyset (the engine dedupes).
        start = dict(ctx.cursor or {})
        if start and ctx.lookback.total_seconds() > 0:
            start["fresh"] = True  # >= (cursor - lookback); without lookback, the strict keyset
        soql = keyset_soql(self.obj, self.fields, ReadContext(start or None, ctx.signpost, ctx.lookback, ctx.full_refresh), self.where)
        cursor = {k: v for k, v in start.items() if k != "fresh"} if start and not ctx.full_refresh else {}
        for records in self.client.query(soql, include_deleted=self.include_deleted):
            for record in records:
                if record.get("SystemModstamp") and record.get("Id"):
                    cursor = {"ts": record["SystemModstamp"], "id": record["Id"]}
            yield records, dict(cursor)

    def read(self, ctx: ReadContext) -> Iterator[Page]:
        for records, cursor in self.batches(ctx):
            out = [self.mapper(record) for record in records]
            yield Page([r for r in out if r is not None], cursor)


class RemovedLeadStream(SoqlStream):
    """Leads deleted or merged away since the cursor (queryAll, `IsDeleted = true`), as `RemovedLead`.

    A merged-away Lead names its survivor (`MasterRecordId`); the survivors of a page are read
    (one query, live Leads only) and put before the removals, so the engine knows where the merged
    record's activities go even when the survivor is new. Nothing deleted: one request per run."""

    include_deleted = True

    def __init__(self, client: SalesforceClient, lead_fields: list[str], lead: Mapper) -> None:
        super().__init__("leads_removed", client, "Lead", ["MasterRecordId"], lead, "IsDeleted = true")
        self.lead_fields = lead_fields

    def read(self, ctx: ReadContext) -> Iterator[Page]:
        for records, cursor in self.batches(ctx):
            removed = [RemovedLead(str(r["Id"]), merged_into=str(r["MasterRecordId"]) if r.get("MasterRecordId") else None)
                       for r in records if r.get("Id")]
            survivors = sorted({r.merged_into for r in removed if r.merged_into})
            yield Page([*self._survivors(survivors), *removed], cursor)

    def _survivors(self, ids: list[str]) -> list[Lead]:
        """The live Leads of `ids` (one that cannot be mapped is left to the leads stream to report)."""
        found: list[Lead] = []
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ", ".join(soql_string(i) for i in ids[start:start + _IN_CHUNK])
            selected = ", ".join(dict.fromkeys(["Id", "SystemModstamp", *self.lead_fields]))
            for rows in self.client.query(f"SELECT {selected} FROM Lead WHERE Id IN ({chunk})"):
                found.extend(lead for lead in map(self.mapper, rows) if isinstance(lead, Lead))
        return found


def build_streams(client: SalesforceClient, settings: SalesforceSettings, connection: str, roles: set[str]) -> list[Stream]:
    f = settings.field
    m = Mappers(settings, connection)
    key_field = f("task_key")
    streams: list[Stream] = []
    if "leads" in roles:
        streams.append(SoqlStream("leads", client, "Lead", list(m.lead_fields.values()), m.lead))
        streams.append(RemovedLeadStream(client, list(m.lead_fields.values()), m.lead))
    if "activities" in roles:
        streams.append(SoqlStream("activities_tasks", client, "Task",
                                  ["WhoId", "TaskSubtype", "CreatedDate", "CompletedDateTime", "CallDurationInSeconds", "CallDisposition"],
                                  m.task_activity, "TaskSubtype IN ('Call', 'Email')"))
        streams.append(SoqlStream("activities_events", client, "Event", ["WhoId", "StartDateTime", "DurationInMinutes"], m.event_activity))
        if settings.read_campaign_members:
            streams.append(SoqlStream("activities_campaign_members", client, "CampaignMember", ["LeadId", "CampaignId", "Status"], m.member_activity))
    if "tasks" in roles:
        streams.append(SoqlStream("task_updates", client, "Task", [key_field, "WhoId", "OwnerId", "IsClosed", "CompletedDateTime"], m.completion,
                                  f"{key_field} != null AND IsClosed = true"))
    return streams


