"""HubSpot records to canonical leads, activities and task updates, and scores to properties."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pydantic import ValidationError

from leadsync.connectors import (
    Rejected,
    ScoreUpdate,
    TaskUpdate,
    nfkc,
    normalize_email,
    parse_datetime,
    parse_employees,
)
from leadsync.core.models import Activity, ActivityType, Lead

from leadsync_hubspot.settings import HubSpotSettings

__all__ = ["ContactMapper", "activity_from_engagement", "lead_from_contact", "score_properties", "task_update_from_task"]

_LEAD_TEXT_FIELDS = ("first_name", "last_name", "company", "title", "phone", "industry", "lead_source", "owner", "status")


_UTC = timezone.utc


def _datetime(value: Any) -> datetime | None:
    """A HubSpot datetime: the v3 APIs read ISO 8601 (properties and object metadata alike);
    epoch milliseconds, what a write may send and the legacy APIs answered, are taken too."""
    if value in (None, ""):
        return None
    text = str(value)
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=_UTC)
    return parse_datetime(text, "UTC")


class _Memo(dict):  # type: ignore[type-arg]
    """`function(value)` of the texts seen (and None), as a dict: a text seen before costs a lookup,
    not a call (contacts repeat their companies, titles, sources and statuses). Emptied when it
    holds `limit` values, so unique values (phone numbers) cannot grow it without bound."""

    def __init__(self, function: Any, limit: int = 8192) -> None:
        super().__init__()
        self.function, self.limit = function, limit

    def __missing__(self, value: Any) -> Any:
        if value is not None and type(value) is not str:
            return self.function(value)  # not kept: 1, 1.0 and True are one key but three texts
        if len(self) >= self.limit:
            self.clear()
        result = self[value] = self.function(value)
        return result


class ContactMapper:
    """`lead_from_contact` for one stream: the property names are looked up once, not per contact,
    and each distinct text value is normalized once."""

    def __init__(self, settings: HubSpotSettings, connection: str) -> None:
        self.connection = connection
        self.email = settings.field("email")
        # The text fields and the employee count's text, by Lead field and by HubSpot property.
        self.names = (*_LEAD_TEXT_FIELDS, "employees_text")
        self.props = (*(settings.field(name) for name in _LEAD_TEXT_FIELDS), settings.field("employees"))
        self.created_at = settings.field("created_at")
        self.updated_at = settings.field("updated_at")
        self.extra = tuple(settings.extra_properties)
        self._text = _Memo(nfkc)
        self._employees = _Memo(parse_employees)

    def __call__(self, record: dict[str, Any]) -> Lead | Rejected:
        """A contact as a canonical Lead; Rejected when it names no one or carries a broken value."""
        connection = self.connection
        record_id = str(record.get("id") or "")
        props = record.get("properties")
        if not record_id or not isinstance(props, dict):
            return Rejected(key=f"contact:{record_id or '?'}", reason="contact has no id or no properties",
                            payload=record)
        get = props.get
        raw_email = get(self.email)
        email = normalize_email(raw_email)
        try:
            try:  # HubSpot sends every property as text (or null): one dict lookup per field
                texts = map(self._text.__getitem__, map(get, self.props))
                values: dict[str, Any] = dict(zip(self.names, texts))
            except TypeError:  # a value that is not text nor hashable: normalized one by one
                values = {name: nfkc(get(prop)) for name, prop in zip(self.names, self.props)}
            values["key"] = email or f"{connection}:{record_id}"
            values["email"] = email
            values["refs"] = {connection: record_id}
            values["employees"] = self._employees[values["employees_text"]]
            created = get(self.created_at) or record.get("createdAt")
            updated = get(self.updated_at) or record.get("updatedAt")
            values["created_at"], values["updated_at"] = _datetime(created), _datetime(updated)
            values["custom"] = {name: props.get(name) for name in self.extra if name in props} if self.extra else {}
            lead = Lead.from_normalized(values)  # every value above comes from a normalizer
        except (ValueError, ValidationError) as exc:
            reason = str(exc).splitlines()[0]
            return Rejected(key=f"contact:{record_id}", reason=f"contact {record_id}: {reason}", payload=record)
        if raw_email and not email:
            lead.custom["invalid_email"] = raw_email
        return lead


def lead_from_contact(record: dict[str, Any], settings: HubSpotSettings, connection: str) -> Lead | Rejected:
    """A contact as a canonical Lead; Rejected when it names no one or carries a broken value."""
    return ContactMapper(settings, connection)(record)


def _int(value: Any) -> int | None:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def activity_from_engagement(
    object_type: str, record: dict[str, Any], contact_id: str, connection: str
) -> Activity | Rejected:
    """A call, meeting or logged e-mail as a canonical Activity of the associated contact."""
    record_id = str(record.get("id") or "")
    props = record.get("properties") or {}
    try:
        occurred = _datetime(props.get("hs_timestamp")) or _datetime(record.get("createdAt"))
        if occurred is None:
            raise ValueError("hs_timestamp is missing")
        duration = None
        outcome = None
        details: dict[str, Any] = {"object": object_type}
        if object_type == "calls":
            kind = ActivityType.CALL
            ms = _int(props.get("hs_call_duration"))
            duration = ms // 1000 if ms is not None else None
            outcome = props.get("hs_call_disposition") or props.get("hs_call_status")
            details["direction"] = props.get("hs_call_direction")
        elif object_type == "meetings":
            kind = ActivityType.MEETING
            start = _datetime(props.get("hs_meeting_start_time"))
            end = _datetime(props.get("hs_meeting_end_time"))
            occurred = start or occurred
            if start and end and end >= start:
                duration = int((end - start).total_seconds())
            outcome = props.get("hs_meeting_outcome")
        else:
            # Logged one-to-one e-mails: a reply from the lead is engagement, our own sends are not.
            kind = ActivityType.OTHER
            details["direction"] = props.get("hs_email_direction")
        return Activity(
            source_id=f"{object_type}:{record_id}",
            connection=connection,
            lead_record_id=contact_id,
            type=kind,
            occurred_at=occurred,
            duration_seconds=duration,
            outcome=outcome,
            details=details,
        )
    except (ValueError, ValidationError) as exc:
        reason = str(exc).splitlines()[0]
        return Rejected(key=f"{object_type}:{record_id}", reason=f"{object_type} {record_id}: {reason}", payload=record)


def task_update_from_task(record: dict[str, Any], settings: HubSpotSettings) -> TaskUpdate | Rejected:
    """A completed leadsync task as a TaskUpdate keyed by its leadsync_key, with its owner id."""
    record_id = str(record.get("id") or "")
    props = record.get("properties") or {}
    key = props.get(settings.field("task_key"))
    if not key:
        return Rejected(key=f"tasks:{record_id}", reason=f"task {record_id} has no {settings.field('task_key')}", payload=record)
    try:
        completed = _datetime(props.get("hs_task_completion_date")) or _datetime(props.get("hs_lastmodifieddate"))
    except ValueError as exc:
        return Rejected(key=f"tasks:{record_id}", reason=f"task {record_id}: {exc}", payload=record)
    return TaskUpdate(key=str(key), completed_at=completed, external_id=record_id,
                      owner=props.get("hubspot_owner_id") or None)


def score_properties(update: ScoreUpdate, settings: HubSpotSettings) -> dict[str, str]:
    """The leadsync_* contact properties for one score, all as strings (HubSpot validates types)."""
    return {
        settings.field("score"): str(update.score),
        settings.field("behavior_score"): str(update.behavior_score),
        settings.field("attribute_score"): str(update.attribute_score),
        settings.field("segment"): update.segment.value,
        settings.field("sheet_version"): update.sheet_version,
        settings.field("scored_at"): str(int(update.scored_at.timestamp() * 1000)),
    }
