"""The Salesforce streams: leads, activities (Task, Event, CampaignMember) and completed leadsync tasks.

Every stream reads one SOQL query ordered by (SystemModstamp, Id) and resumes by that keyset, so
records sharing one timestamp (bulk updates, whole-second precision) are neither lost nor looped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from pydantic import ValidationError

from leadsync.connectors.base import Page, ReadContext, Rejected, Stream, TaskUpdate
from leadsync.core.models import Activity, ActivityType, Lead
from leadsync.core.normalize import lead_key, nfkc, normalize_email, parse_employees

from leadsync_salesforce.api import SalesforceApi, parse_sf_datetime, soql_datetime, soql_string
from leadsync_salesforce.settings import SalesforceSettings

__all__ = ["SoqlStream", "build_streams"]

Record = dict[str, Any]
Mapper = Callable[[Record], Any]


def keyset_soql(obj: str, fields: list[str], ctx: ReadContext, where: str = "") -> str:
    """SELECT ... changed after the cursor's (SystemModstamp, Id) and up to the signpost."""
    clauses = [where] if where else []
    cursor = None if ctx.full_refresh else ctx.cursor
    if cursor and cursor.get("ts"):
        moment = parse_sf_datetime(cursor["ts"])
        if cursor.get("id") and not cursor.get("fresh"):
            stamp = soql_datetime(moment)
            clauses.append(f"(SystemModstamp > {stamp} OR (SystemModstamp = {stamp} AND Id > {soql_string(cursor['id'])}))")
        else:
            clauses.append(f"SystemModstamp >= {soql_datetime(moment - ctx.lookback)}")
    clauses.append(f"SystemModstamp <= {soql_datetime(ctx.signpost)}")
    selected = ", ".join(dict.fromkeys(["Id", "SystemModstamp", *fields]))
    return f"SELECT {selected} FROM {obj} WHERE {' AND '.join(clauses)} ORDER BY SystemModstamp ASC, Id ASC"


class SoqlStream(Stream):
    """One object's changes as pages; the cursor is the last record's (SystemModstamp, Id)."""

    def __init__(self, name: str, api: SalesforceApi, obj: str, fields: list[str], mapper: Mapper, where: str = "") -> None:
        self.name = name  # type: ignore[misc]
        self.api, self.obj, self.fields, self.mapper, self.where = api, obj, fields, mapper, where

    def read(self, ctx: ReadContext) -> Iterator[Page]:
        # A new run re-reads `lookback` behind the stored keyset (the engine dedupes).
        start = dict(ctx.cursor or {})
        if start and ctx.lookback.total_seconds() > 0:
            start["fresh"] = True  # >= (cursor - lookback); without lookback, the strict keyset
        soql = keyset_soql(self.obj, self.fields, ReadContext(start or None, ctx.signpost, ctx.lookback, ctx.full_refresh), self.where)
        cursor = {k: v for k, v in start.items() if k != "fresh"} if start and not ctx.full_refresh else {}
        for records in self.api.query(soql):
            out = []
            for record in records:
                out.append(self.mapper(record))
                if record.get("SystemModstamp") and record.get("Id"):
                    cursor = {"ts": record["SystemModstamp"], "id": record["Id"]}
            yield Page([r for r in out if r is not None], dict(cursor))


def _reject(record: Record, exc: Exception) -> Rejected:
    kind = (record.get("attributes") or {}).get("type", "record")
    return Rejected(key=f"{kind}:{record.get('Id')}", reason=f"{kind} {record.get('Id')}: {str(exc).splitlines()[0]}", payload=record)


def build_streams(api: SalesforceApi, settings: SalesforceSettings, connection: str, roles: set[str]) -> list[Stream]:
    f = settings.field
    lead_fields = {k: f(k) for k in ("email", "first_name", "last_name", "company", "title", "phone", "employees",
                                     "industry", "lead_source", "owner", "status", "created_at")}

    def lead(record: Record) -> Lead | Rejected:
        try:
            email = normalize_email(record.get(lead_fields["email"]))
            employees_raw = record.get(lead_fields["employees"])
            text = {k: nfkc(None if record.get(v) is None else str(record.get(v)))
                    for k, v in lead_fields.items() if k not in ("email", "employees", "created_at")}
            return Lead(key=lead_key(email, connection, record.get("Id")), email=email, refs={connection: str(record["Id"])},
                        employees=parse_employees(employees_raw if isinstance(employees_raw, int) else nfkc(None if employees_raw is None else str(employees_raw))),
                        employees_text=None if employees_raw is None else str(employees_raw),
                        created_at=parse_sf_datetime(record.get(lead_fields["created_at"])),
                        updated_at=parse_sf_datetime(record.get("SystemModstamp")), **text)
        except (KeyError, ValueError, ValidationError) as exc:
            return _reject(record, exc)

    def task_activity(record: Record) -> Activity | Rejected | None:
        who = record.get("WhoId")
        if not who:
            return None
        try:
            call = record.get("TaskSubtype") == "Call"
            return Activity(source_id=f"Task:{record['Id']}", connection=connection, lead_record_id=who,
                            type=ActivityType.CALL if call else ActivityType.OTHER,
                            occurred_at=parse_sf_datetime(record.get("CompletedDateTime") or record.get("CreatedDate")),
                            duration_seconds=record.get("CallDurationInSeconds") if call else None,
                            outcome=record.get("CallDisposition"), details={"subtype": record.get("TaskSubtype")})
        except (KeyError, ValueError, ValidationError, TypeError) as exc:
            return _reject(record, exc)

    def event_activity(record: Record) -> Activity | Rejected | None:
        if not record.get("WhoId"):
            return None
        try:
            minutes = record.get("DurationInMinutes")
            return Activity(source_id=f"Event:{record['Id']}", connection=connection, lead_record_id=record["WhoId"],
                            type=ActivityType.MEETING, occurred_at=parse_sf_datetime(record.get("StartDateTime")),
                            duration_seconds=int(minutes) * 60 if minutes is not None else None)
        except (KeyError, ValueError, ValidationError, TypeError) as exc:
            return _reject(record, exc)

    def member_activity(record: Record) -> Activity | Rejected | None:
        status = record.get("Status")
        kind = (ActivityType.WEBINAR_ATTENDED if status in settings.webinar_attended_statuses else
                ActivityType.WEBINAR_REGISTERED if status in settings.webinar_registered_statuses else None)
        if kind is None or not record.get("LeadId"):
            return None
        try:
            # The status is part of the id: registered, then attended, are two activities.
            return Activity(source_id=f"CampaignMember:{record['Id']}:{status}", connection=connection,
                            lead_record_id=record["LeadId"], type=kind,
                            occurred_at=parse_sf_datetime(record.get("SystemModstamp")),
                            details={"campaign": record.get("CampaignId")})
        except (KeyError, ValueError, ValidationError) as exc:
            return _reject(record, exc)

    key_field = f("task_key")

    def completion(record: Record) -> TaskUpdate | Rejected:
        try:
            done = parse_sf_datetime(record.get("CompletedDateTime") or record.get("SystemModstamp"))
        except ValueError as exc:
            return _reject(record, exc)
        return TaskUpdate(key=str(record[key_field]), completed_at=done, external_id=record.get("Id"))

    streams: list[Stream] = []
    if "leads" in roles:
        streams.append(SoqlStream("leads", api, "Lead", list(lead_fields.values()), lead))
    if "activities" in roles:
        streams.append(SoqlStream("activities_tasks", api, "Task",
                                  ["WhoId", "TaskSubtype", "CreatedDate", "CompletedDateTime", "CallDurationInSeconds", "CallDisposition"],
                                  task_activity, "TaskSubtype IN ('Call', 'Email')"))
        streams.append(SoqlStream("activities_events", api, "Event", ["WhoId", "StartDateTime", "DurationInMinutes"], event_activity))
        if settings.read_campaign_members:
            streams.append(SoqlStream("activities_campaign_members", api, "CampaignMember", ["LeadId", "CampaignId", "Status"], member_activity))
    if "tasks" in roles:
        streams.append(SoqlStream("task_updates", api, "Task", [key_field, "IsClosed", "CompletedDateTime"], completion,
                                  f"{key_field} != null AND IsClosed = true"))
    return streams


