"""Salesforce records (Lead, Task, Event, CampaignMember) as canonical leads, activities and task updates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from leadsync.connectors import Rejected, TaskUpdate, lead_key, nfkc, normalize_email, parse_employees
from leadsync.core.models import Activity, ActivityType, Lead

from leadsync_salesforce.client import parse_sf_datetime
from leadsync_salesforce.settings import SalesforceSettings

__all__ = ["Mapper", "Mappers", "Record"]

Record = dict[str, Any]
Mapper = Callable[[Record], Any]


def _reject(record: Record, exc: Exception) -> Rejected:
    kind = (record.get("attributes") or {}).get("type", "record")
    return Rejected(key=f"{kind}:{record.get('Id')}", reason=f"{kind} {record.get('Id')}: {str(exc).splitlines()[0]}", payload=record)


class Mappers:
    """Salesforce records of one connection as canonical records (Rejected when one cannot be)."""

    def __init__(self, settings: SalesforceSettings, connection: str) -> None:
        f = settings.field
        self.settings, self.connection = settings, connection
        self.key_field = f("task_key")
        self.lead_fields = {k: f(k) for k in ("email", "first_name", "last_name", "company", "title", "phone", "employees",
                                          "industry", "lead_source", "owner", "status", "created_at")}

    def lead(self, record: Record) -> Lead | Rejected:
        try:
            email = normalize_email(record.get(self.lead_fields["email"]))
            employees_raw = record.get(self.lead_fields["employees"])
            text = {k: nfkc(None if record.get(v) is None else str(record.get(v)))
                    for k, v in self.lead_fields.items() if k not in ("email", "employees", "created_at")}
            return Lead(key=lead_key(email, self.connection, record.get("Id")), email=email, refs={self.connection: str(record["Id"])},
                        employees=parse_employees(employees_raw if isinstance(employees_raw, int) else nfkc(None if employees_raw is None else str(employees_raw))),
                        employees_text=None if employees_raw is None else str(employees_raw),
                        created_at=parse_sf_datetime(record.get(self.lead_fields["created_at"])),
                        updated_at=parse_sf_datetime(record.get("SystemModstamp")), **text)
        except (KeyError, ValueError, ValidationError) as exc:
            return _reject(record, exc)

    def task_activity(self, record: Record) -> Activity | Rejected | None:
        who = record.get("WhoId")
        if not who:
            return None
        try:
            call = record.get("TaskSubtype") == "Call"
            return Activity(source_id=f"Task:{record['Id']}", connection=self.connection, lead_record_id=who,
                            type=ActivityType.CALL if call else ActivityType.OTHER,
                            occurred_at=parse_sf_datetime(record.get("CompletedDateTime") or record.get("CreatedDate")),
                            duration_seconds=record.get("CallDurationInSeconds") if call else None,
                            outcome=record.get("CallDisposition"), details={"subtype": record.get("TaskSubtype")})
        except (KeyError, ValueError, ValidationError, TypeError) as exc:
            return _reject(record, exc)

    def event_activity(self, record: Record) -> Activity | Rejected | None:
        if not record.get("WhoId"):
            return None
        try:
            minutes = record.get("DurationInMinutes")
            return Activity(source_id=f"Event:{record['Id']}", connection=self.connection, lead_record_id=record["WhoId"],
                            type=ActivityType.MEETING, occurred_at=parse_sf_datetime(record.get("StartDateTime")),
                            duration_seconds=int(minutes) * 60 if minutes is not None else None)
        except (KeyError, ValueError, ValidationError, TypeError) as exc:
            return _reject(record, exc)

    def member_activity(self, record: Record) -> Activity | Rejected | None:
        status = record.get("Status")
        kind = (ActivityType.WEBINAR_ATTENDED if status in self.settings.webinar_attended_statuses else
                ActivityType.WEBINAR_REGISTERED if status in self.settings.webinar_registered_statuses else None)
        if kind is None or not record.get("LeadId"):
            return None
        try:
            # The status is part of the id: registered, then attended, are two activities.
            return Activity(source_id=f"CampaignMember:{record['Id']}:{status}", connection=self.connection,
                            lead_record_id=record["LeadId"], type=kind,
                            occurred_at=parse_sf_datetime(record.get("SystemModstamp")),
                            details={"campaign": record.get("CampaignId")})
        except (KeyError, ValueError, ValidationError) as exc:
            return _reject(record, exc)

    def completion(self, record: Record) -> TaskUpdate | Rejected:
        try:
            done = parse_sf_datetime(record.get("CompletedDateTime") or record.get("SystemModstamp"))
        except ValueError as exc:
            return _reject(record, exc)
        # WhoId is the Lead (or Contact) the Task is about: the same id the lead stream gives as
        # record_id, so the engine can rebuild a completed handoff a lost state store forgot.
        return TaskUpdate(key=str(record[self.key_field]), completed_at=done, external_id=record.get("Id"),
                          record_id=record.get("WhoId") or None, owner=record.get("OwnerId") or None)
