"""Marketo lead records and activities as canonical leads and activities."""

from __future__ import annotations

from typing import Any

from leadsync.connectors import Rejected, lead_key, nfkc, normalize_email, parse_datetime, parse_employees
from leadsync.core.models import Activity, ActivityType, Lead

from leadsync_marketo.settings import DEFAULT_ACTIVITY_TYPES, DEFAULT_PROGRAM_STATUSES, MarketoSettings

__all__ = ["to_activity", "to_lead"]

_DOCUMENT_SUFFIXES = (".pdf", ".ppt", ".pptx", ".doc", ".docx", ".xls", ".xlsx", ".zip")
_PROGRESSION = "Change Status in Progression"



def to_lead(raw: dict[str, Any], connection: str, settings: MarketoSettings, tz: str) -> Lead | Rejected:
    """A Marketo lead record as a canonical Lead (Rejected when it has no usable identity)."""
    record_id = raw.get("id")
    if record_id is None:
        return Rejected(key=f"{connection}:lead:?", reason="lead record has no id", payload=raw)
    record_id = str(record_id)

    def value(name: str) -> Any:
        field = settings.field(name)
        return raw.get(field) if field else None

    def text(name: str) -> str | None:
        item = value(name)
        return nfkc(str(item)) if item not in (None, "") else None

    try:
        employees_raw = value("employees")
        return Lead(
            key=lead_key(value("email"), connection, record_id),
            email=normalize_email(value("email")),
            refs={connection: record_id},
            first_name=text("first_name"),
            last_name=text("last_name"),
            company=text("company"),
            title=text("title"),
            department=text("department"),
            phone=text("phone"),
            employees=parse_employees(employees_raw if isinstance(employees_raw, int) else text("employees")),
            employees_text=text("employees"),
            industry=text("industry"),
            lead_source=text("lead_source"),
            owner=text("owner"),
            status=text("status"),
            created_at=parse_datetime(value("created_at"), tz),
            updated_at=parse_datetime(value("updated_at"), tz),
        )
    except (ValueError, TypeError) as exc:
        return Rejected(key=f"{connection}:lead:{record_id}", reason=f"lead {record_id}: {exc}", payload=raw)


def _attribute(raw: dict[str, Any], *names: str) -> Any:
    for item in raw.get("attributes") or []:
        if isinstance(item, dict) and item.get("name") in names:
            return item.get("value")
    return None


def to_activity(
    raw: dict[str, Any], connection: str, type_names: dict[int, str], settings: MarketoSettings
) -> Activity | Rejected | None:
    """A Marketo activity as a canonical Activity; None for one leadsync does not score."""
    source_id = raw.get("marketoGUID") or (str(raw["id"]) if raw.get("id") is not None else None)
    if not source_id or raw.get("leadId") is None:
        return Rejected(key=f"{connection}:activity:{source_id or '?'}", reason="activity without id or leadId",
                        payload=raw)
    type_name = type_names.get(raw.get("activityTypeId"), "")  # type: ignore[arg-type]
    kinds = {**DEFAULT_ACTIVITY_TYPES, **settings.activity_types}
    kind = kinds.get(type_name)
    if kind is None:
        return None
    occurred = parse_datetime(raw.get("activityDate")) if raw.get("activityDate") else None
    if occurred is None:
        return Rejected(key=f"{connection}:activity:{source_id}", reason=f"activity {source_id}: no activityDate",
                        payload=raw)
    primary = raw.get("primaryAttributeValue")
    url: str | None = None
    if type_name == _PROGRESSION:
        statuses = {**DEFAULT_PROGRAM_STATUSES, **settings.program_statuses}
        status = _attribute(raw, "New Status")
        if status not in statuses:
            return None
        kind = statuses[status]
    elif type_name == "Visit Webpage":
        url = _attribute(raw, "Webpage URL") or primary
    elif type_name == "Click Link":
        url = _attribute(raw, "Link", "Link URL") or primary
        if url and str(url).lower().split("?")[0].endswith(_DOCUMENT_SUFFIXES):
            kind = ActivityType.CONTENT_DOWNLOAD
    elif type_name in ("Click Email", "Fill Out Form"):
        url = _attribute(raw, "Link", "Webpage URL", "Referrer URL")
    details = {"marketo_type": type_name, "primary": primary}
    if raw.get("campaignId") is not None:
        details["campaign_id"] = raw["campaignId"]
    return Activity(
        source_id=str(source_id),
        connection=connection,
        lead_record_id=str(raw["leadId"]),
        type=kind,
        occurred_at=occurred,
        url=str(url) if url else None,
        outcome=str(_attribute(raw, "New Status")) if type_name == _PROGRESSION else None,
        details=details,
    )
