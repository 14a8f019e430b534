"""The Salesforce streams: leads, activities (Task, Event, CampaignMember) and completed leadsync tasks.

Every stream reads one SOQL query ordered by (SystemModstamp, Id) and resumes by that keyset, so
records sharing one timestamp (bulk updates, whole-second precision) are neither lost nor looped.
"""

from __future__ import annotations

from collections.abc import Iterator

from leadsync.connectors import Incremental, Page, ReadContext, Stream

from leadsync_salesforce.client import SalesforceClient, parse_sf_datetime, soql_datetime, soql_string
from leadsync_salesforce.mapping import Mapper, Mappers
from leadsync_salesforce.settings import SalesforceSettings

__all__ = ["SoqlStream", "build_streams", "keyset_soql"]


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

    def __init__(self, name: str, client: SalesforceClient, obj: str, fields: list[str], mapper: Mapper, where: str = "") -> None:
        self.name = name  # type: ignore[misc]
        self.client, self.obj, self.fields, self.mapper, self.where = client, obj, fields, mapper, where

    def read(self, ctx: ReadContext) -> Iterator[Page]:
        # A new run re-reads `lookback` behind the stored keyset (the engine dedupes).
        start = dict(ctx.cursor or {})
        if start and ctx.lookback.total_seconds() > 0:
            start["fresh"] = True  # >= (cursor - lookback); without lookback, the strict keyset
        soql = keyset_soql(self.obj, self.fields, ReadContext(start or None, ctx.signpost, ctx.lookback, ctx.full_refresh), self.where)
        cursor = {k: v for k, v in start.items() if k != "fresh"} if start and not ctx.full_refresh else {}
        for records in self.client.query(soql):
            out = []
            for record in records:
                out.append(self.mapper(record))
                if record.get("SystemModstamp") and record.get("Id"):
                    cursor = {"ts": record["SystemModstamp"], "id": record["Id"]}
            yield Page([r for r in out if r is not None], dict(cursor))


def build_streams(client: SalesforceClient, settings: SalesforceSettings, connection: str, roles: set[str]) -> list[Stream]:
    f = settings.field
    m = Mappers(settings, connection)
    key_field = f("task_key")
    streams: list[Stream] = []
    if "leads" in roles:
        streams.append(SoqlStream("leads", client, "Lead", list(m.lead_fields.values()), m.lead))
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


