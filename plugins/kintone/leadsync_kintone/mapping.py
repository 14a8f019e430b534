"""kintone records as canonical leads, activities and task updates; field values and times."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from leadsync.connectors import Rejected, TaskUpdate, lead_key, nfkc, normalize_email, parse_datetime, parse_employees
from leadsync.core.models import Activity, ActivityType, Lead

from leadsync_kintone.settings import KintoneSettings

__all__ = ["ACTIVITY_LABELS", "field_value", "kintone_time", "to_activity", "to_lead", "to_update"]

ACTIVITY_LABELS: dict[str, ActivityType] = {
    "メール開封": ActivityType.EMAIL_OPEN,
    "メールクリック": ActivityType.EMAIL_CLICK,
    "資料ダウンロード": ActivityType.CONTENT_DOWNLOAD,
    "Web訪問": ActivityType.WEB_VISIT,
    "ページ閲覧": ActivityType.WEB_VISIT,
    "フォーム入力開始": ActivityType.FORM_STARTED,
    "フォーム送信": ActivityType.FORM_SUBMITTED,
    "問い合わせ": ActivityType.FORM_SUBMITTED,
    "ウェビナー申込": ActivityType.WEBINAR_REGISTERED,
    "ウェビナー参加": ActivityType.WEBINAR_ATTENDED,
    "電話": ActivityType.CALL,
    "架電": ActivityType.CALL,
    "商談": ActivityType.MEETING,
    "打ち合わせ": ActivityType.MEETING,
    "配信停止": ActivityType.UNSUBSCRIBE,
}


def kintone_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def field_value(record: dict[str, Any], code: str) -> Any:
    """The plain value of a field: user/organization selections give the first code; '' gives None."""
    if not code or not isinstance(record.get(code), dict):
        return None
    value = record[code].get("value")
    if isinstance(value, list):
        first = value[0] if value else None
        value = first.get("code") if isinstance(first, dict) else first
    elif isinstance(value, dict):
        value = value.get("code")
    return None if value in ("", None) else value


def to_lead(raw: dict[str, Any], connection: str, settings: KintoneSettings, tz: str) -> Lead | Rejected:
    record_id = field_value(raw, "$id")
    if record_id is None:
        return Rejected(key=f"{connection}:?", reason="record has no $id", payload=raw)

    def text(name: str) -> str | None:
        value = field_value(raw, settings.lead_field(name))
        return nfkc(str(value)) if value is not None else None

    try:
        email = field_value(raw, settings.lead_field("email"))
        return Lead(
            key=lead_key(email, connection, str(record_id)),
            email=normalize_email(email),
            refs={connection: str(record_id)},
            first_name=text("first_name"), last_name=text("last_name"), company=text("company"),
            title=text("title"), department=text("department"), phone=text("phone"),
            employees=parse_employees(text("employees")), employees_text=text("employees"),
            industry=text("industry"), lead_source=text("lead_source"), owner=text("owner"),
            status=text("status"), status_reason=text("status_reason"),
            created_at=parse_datetime(text("created_at"), tz),
            updated_at=parse_datetime(text("updated_at"), tz),
        )
    except (ValueError, TypeError) as exc:
        return Rejected(key=f"{connection}:{record_id}", reason=f"record {record_id}: {exc}", payload=raw)


def to_activity(raw: dict[str, Any], connection: str, settings: KintoneSettings, tz: str) -> Activity | Rejected:
    record_id = field_value(raw, "$id")
    key = f"{connection}:activity:{record_id}"
    label = field_value(raw, settings.activity_field("type"))
    kind = ACTIVITY_LABELS.get(str(label)) if label is not None else None
    if kind is None:
        try:
            kind = ActivityType(str(label).strip().lower())
        except ValueError:
            return Rejected(key=key, reason=f"record {record_id}: unknown activity type {label!r}", payload=raw)
    occurred = parse_datetime(field_value(raw, settings.activity_field("occurred_at")), tz)
    email = normalize_email(field_value(raw, settings.activity_field("email")))
    if occurred is None or email is None:
        return Rejected(key=key, reason=f"record {record_id}: needs an e-mail and a date", payload=raw)
    duration = field_value(raw, settings.activity_field("duration_seconds"))
    try:
        seconds = int(float(duration)) if duration is not None else None
    except ValueError:
        seconds = None
    url = field_value(raw, settings.activity_field("url"))
    outcome = field_value(raw, settings.activity_field("outcome"))
    return Activity(source_id=f"{settings.activities_app}:{record_id}", connection=connection, email=email,
                    type=kind, occurred_at=occurred, url=str(url) if url else None, duration_seconds=seconds,
                    outcome=str(outcome) if outcome else None)


def to_update(raw: dict[str, Any], connection: str, settings: KintoneSettings, tz: str) -> TaskUpdate | Rejected:
    """A To-Do record as a TaskUpdate: its key, its completion (status in `task_done_values`), and
    its lead: the lead link (the leads app's record id, as `Lead.refs` holds it) and the e-mail, so
    a completion a lost state store no longer has an episode for can rebuild it; and its owner
    (the first user of the user selection, by login name)."""
    key = field_value(raw, settings.task_field("key"))
    if not key:
        return Rejected(key=f"{connection}:task:{field_value(raw, '$id')}", reason="task without key",
                        payload=raw)
    done = str(field_value(raw, settings.task_field("status")) or "") in settings.task_done_values
    completed = parse_datetime(field_value(raw, settings.task_field("completed_at")), tz) if done else None
    if done and completed is None:
        completed = parse_datetime(field_value(raw, settings.task_field("updated_at")), tz)
    lead_record = field_value(raw, settings.task_field("lead_record_id"))
    owner = field_value(raw, settings.task_field("owner"))
    return TaskUpdate(key=str(key), completed_at=completed, external_id=str(field_value(raw, "$id")),
                      email=normalize_email(field_value(raw, settings.task_field("email"))),
                      record_id=nfkc(str(lead_record)) if lead_record is not None else None,
                      owner=nfkc(str(owner)) if owner is not None else None)
