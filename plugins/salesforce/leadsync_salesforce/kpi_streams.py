"""Inside-sales streams: Task calls with rep and outcome, Events booked and held, Opportunities.

Calls are Tasks with `TaskSubtype = 'Call'`: `CallDurationInSeconds`, `CallDisposition` (the
org's own picklist text, normalized: 通電, 不在, Connected ...) and `OwnerId` (the rep). An Event
is booked at `CreatedDate` (a `meeting_set`) and takes place at `StartDateTime` (a `meeting`);
Salesforce has no standard meeting outcome, so the outcome comes from the field mapped as
`meeting_outcome` in `fields` (none: the meeting's outcome stays unknown). An Opportunity belongs
to the Lead converted into it (`Lead.ConvertedOpportunityId`), else to the e-mail of its primary
(or first) contact role's Contact (`OpportunityContactRole`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from leadsync.connectors import Page, ReadContext, Rejected, Stream, normalize_email, normalize_outcome, parse_datetime
from leadsync.core.models import Activity, ActivityType, Opportunity, OpportunityStatus

from leadsync_salesforce.client import SalesforceClient, parse_sf_datetime, soql_string
from leadsync_salesforce.settings import SalesforceSettings
from leadsync_salesforce.streams import SoqlStream, keyset_soql

__all__ = ["OpportunityStream", "sales_streams"]

Record = dict[str, Any]
_IN_CHUNK = 200  # ids per IN (...) lookup, well inside SOQL's 100,000-character limit


def _reject(record: Record, exc: Exception) -> Rejected:
    kind = (record.get("attributes") or {}).get("type", "record")
    return Rejected(key=f"{kind}:{record.get('Id')}", reason=f"{kind} {record.get('Id')}: {str(exc).splitlines()[0]}",
                    payload=record)


def call_activity(connection: str, record: Record) -> Activity | Rejected | None:
    """A Task: a call (duration, outcome, rep) or another kind of task (OTHER); None without a Who."""
    who = record.get("WhoId")
    if not who:
        return None
    try:
        call = record.get("TaskSubtype") == "Call"
        return Activity(source_id=f"Task:{record['Id']}", connection=connection, lead_record_id=who,
                        type=ActivityType.CALL if call else ActivityType.OTHER,
                        occurred_at=parse_sf_datetime(record.get("CompletedDateTime") or record.get("CreatedDate")),
                        duration_seconds=record.get("CallDurationInSeconds") if call else None,
                        outcome=normalize_outcome(record.get("CallDisposition")), owner=record.get("OwnerId"),
                        details={"subtype": record.get("TaskSubtype")})
    except (KeyError, ValueError, ValidationError, TypeError) as exc:
        return _reject(record, exc)


class EventStream(SoqlStream):
    """Events as a `meeting_set` (when created) and a `meeting` (when it starts)."""

    def __init__(self, client: SalesforceClient, connection: str, outcome_field: str | None) -> None:
        fields = ["WhoId", "StartDateTime", "DurationInMinutes", "OwnerId", "CreatedDate"]
        fields += [outcome_field] if outcome_field else []
        super().__init__("activities_events", client, "Event", fields, self._records)
        self.connection, self.outcome_field = connection, outcome_field

    def read(self, ctx: ReadContext) -> Iterator[Page]:
        for page in super().read(ctx):  # each record maps to a list: its booking and the meeting
            yield Page([r for group in page.records for r in group], page.cursor)  # type: ignore[union-attr]

    def _records(self, record: Record) -> list[Activity | Rejected]:
        if not record.get("WhoId"):
            return []
        try:
            minutes = record.get("DurationInMinutes")
            outcome = normalize_outcome(record.get(self.outcome_field)) if self.outcome_field else None
            held = Activity(source_id=f"Event:{record['Id']}", connection=self.connection,
                            lead_record_id=record["WhoId"], type=ActivityType.MEETING,
                            occurred_at=parse_sf_datetime(record.get("StartDateTime")),
                            duration_seconds=int(minutes) * 60 if minutes is not None else None,
                            outcome=outcome, owner=record.get("OwnerId"))
            booked = held.model_copy(update={"source_id": f"Event:{record['Id']}:set", "type": ActivityType.MEETING_SET,
                                             "occurred_at": parse_sf_datetime(record.get("CreatedDate")),
                                             "outcome": None, "duration_seconds": None})
            return [booked, held]
        except (KeyError, ValueError, ValidationError, TypeError) as exc:
            return [_reject(record, exc)]


class OpportunityStream(Stream):
    """Opportunities changed since the cursor, each linked to its converted Lead or contact role."""

    name = "opportunities"
    FIELDS = ["Name", "CreatedDate", "StageName", "Amount", "CloseDate", "IsClosed", "IsWon", "OwnerId"]

    def __init__(self, client: SalesforceClient, connection: str, timezone: str, lost_reason_field: str | None) -> None:
        self.client, self.connection, self.timezone, self.lost_reason_field = client, connection, timezone, lost_reason_field

    def read(self, ctx: ReadContext) -> Iterator[Page]:
        start = dict(ctx.cursor or {})
        if start and ctx.lookback.total_seconds() > 0:
            start["fresh"] = True
        fields = self.FIELDS + ([self.lost_reason_field] if self.lost_reason_field else [])
        soql = keyset_soql("Opportunity", fields, ReadContext(start or None, ctx.signpost, ctx.lookback, ctx.full_refresh))
        cursor = {k: v for k, v in start.items() if k != "fresh"} if start and not ctx.full_refresh else {}
        for records in self.client.query(soql):
            ids = [str(r["Id"]) for r in records if r.get("Id")]
            leads = self._converted_leads(ids)
            emails = self._contact_emails([i for i in ids if i not in leads])  # the converted Lead comes first
            out = []
            for record in records:
                result = self._opportunity(record, leads.get(str(record.get("Id"))), emails.get(str(record.get("Id"))))
                if result is not None:
                    out.append(result)
                if record.get("SystemModstamp") and record.get("Id"):
                    cursor = {"ts": record["SystemModstamp"], "id": record["Id"]}
            yield Page(out, dict(cursor))

    def _in(self, ids: list[str]) -> Iterator[str]:
        for start in range(0, len(ids), _IN_CHUNK):
            yield ", ".join(soql_string(i) for i in ids[start:start + _IN_CHUNK])

    def _converted_leads(self, ids: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in self._in(ids):
            for rows in self.client.query(f"SELECT Id, ConvertedOpportunityId FROM Lead WHERE ConvertedOpportunityId IN ({chunk})"):
                for row in rows:
                    found.setdefault(str(row["ConvertedOpportunityId"]), str(row["Id"]))
        return found

    def _contact_emails(self, ids: list[str]) -> dict[str, str]:
        roles: dict[str, str] = {}
        for chunk in self._in(ids):
            for rows in self.client.query("SELECT Id, OpportunityId, ContactId, IsPrimary FROM OpportunityContactRole "
                                       f"WHERE OpportunityId IN ({chunk}) ORDER BY IsPrimary DESC, CreatedDate ASC"):
                for row in rows:
                    roles.setdefault(str(row["OpportunityId"]), str(row["ContactId"]))
        emails: dict[str, str] = {}
        contacts = sorted(set(roles.values()))
        for chunk in self._in(contacts):
            for rows in self.client.query(f"SELECT Id, Email FROM Contact WHERE Id IN ({chunk})"):
                for row in rows:
                    if email := normalize_email(row.get("Email")):
                        emails[str(row["Id"])] = email
        return {opp: emails[contact] for opp, contact in roles.items() if contact in emails}

    def _opportunity(self, record: Record, lead_id: str | None, email: str | None) -> Opportunity | Rejected | None:
        if lead_id is None and email is None:
            return None  # no lead of ours: neither converted from a Lead nor with a contact role
        try:
            won, closed = bool(record.get("IsWon")), bool(record.get("IsClosed"))
            status = OpportunityStatus.WON if won else OpportunityStatus.LOST if closed else OpportunityStatus.OPEN
            close = parse_datetime(record.get("CloseDate"), self.timezone) if closed else None  # a date field
            amount = record.get("Amount")
            return Opportunity(
                source_id=f"Opportunity:{record['Id']}", connection=self.connection, email=email,
                lead_record_id=lead_id, name=record.get("Name"), created_at=parse_sf_datetime(record.get("CreatedDate")),
                stage=record.get("StageName"), amount=float(amount) if amount is not None else None,
                closed_at=close, status=status, owner=record.get("OwnerId"),
                lost_reason=(record.get(self.lost_reason_field) if self.lost_reason_field and status is
                             OpportunityStatus.LOST else None),
            )
        except (KeyError, ValueError, ValidationError, TypeError) as exc:
            return _reject(record, exc)


def sales_streams(streams: list[Stream], client: SalesforceClient, settings: SalesforceSettings, connection: str,
                  timezone: str, roles: set[str]) -> list[Stream]:
    """The plugin's streams with Task calls and Events carrying rep and outcome, plus opportunities."""
    if "activities" not in roles:
        return streams
    result: list[Stream] = []
    for stream in streams:
        if stream.name == "activities_tasks" and isinstance(stream, SoqlStream):
            stream.fields = list(dict.fromkeys([*stream.fields, "OwnerId"]))
            stream.mapper = lambda record: call_activity(connection, record)
        elif stream.name == "activities_events":
            stream = EventStream(client, connection, settings.fields.get("meeting_outcome"))
        result.append(stream)
    result.append(OpportunityStream(client, connection, timezone, settings.fields.get("lost_reason")))
    return result
