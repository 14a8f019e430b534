"""kintone streams: leads, activities and completed tasks, by `更新日時 >= watermark` and `$id` seek.

UPDATED_TIME has minute precision, so the watermark is compared with ``>=`` (re-reading the last
minute; the engine deduplicates) and a run pages by ``$id > last`` (never ``offset``, capped at 10,000).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from leadsync.connectors.base import Page, ReadContext, Rejected, Stream, TaskUpdate
from leadsync.core.models import Activity, ActivityType, Lead
from leadsync.core.normalize import lead_key, nfkc, normalize_email, parse_datetime, parse_employees

from leadsync_kintone.api import KintoneApi
from leadsync_kintone.settings import (
    DEFAULT_ACTIVITY_FIELDS,
    DEFAULT_LEAD_FIELDS,
    DEFAULT_TASK_FIELDS,
    KintoneSettings,
)

__all__ = ["ActivitiesStream", "LeadsStream", "TasksStream", "field_value", "kintone_time"]

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


def _seek(api: KintoneApi, app: int, updated_code: str, fields: list[str], ctx: ReadContext, initial_days: int,
          convert: Callable[[dict[str, Any]], Any]) -> Iterator[Page]:
    cursor = {} if ctx.full_refresh or not ctx.cursor else dict(ctx.cursor)
    since = parse_datetime(cursor.get("since")) if cursor.get("since") else None
    if since is None:
        since, cursor = ctx.signpost - timedelta(days=initial_days), {}
    since_text = kintone_time(since)
    last_id = int(cursor.get("last_id", 0))
    max_seen: str | None = cursor.get("max_seen")
    condition = f'{updated_code} >= "{kintone_time(since - ctx.lookback)}"'
    codes = list(dict.fromkeys(["$id", "$revision", updated_code, *[c for c in fields if c]]))
    emitted = False
    for raw_records in api.seek(app, condition, codes, last_id):
        records = []
        for raw in raw_records:
            if not isinstance(raw, dict):
                records.append(Rejected(key=f"app{app}:?", reason="record is not an object", payload={"raw": raw}))
                continue
            records.append(convert(raw))
            seen = parse_datetime(field_value(raw, updated_code))
            if seen and (max_seen is None or seen > parse_datetime(max_seen)):  # type: ignore[operator]
                max_seen = kintone_time(seen)
            try:
                last_id = max(last_id, int(field_value(raw, "$id")))
            except (TypeError, ValueError):
                pass
        done = len(raw_records) < api.settings.page_size
        if done:
            newest = parse_datetime(max_seen) if max_seen else since
            watermark = min(max(newest or since, since), ctx.signpost)
            yield Page(records, {"since": kintone_time(watermark)})
            emitted = True
        else:
            yield Page(records, {"since": since_text, "last_id": last_id, "max_seen": max_seen})
    if not emitted:  # the last page was exactly full: the next (empty) page ended the read
        newest = parse_datetime(max_seen) if max_seen else since
        yield Page([], {"since": kintone_time(min(max(newest or since, since), ctx.signpost))})


class LeadsStream(Stream):
    name = "leads"

    def __init__(self, api: KintoneApi, connection: str, settings: KintoneSettings, tz: str) -> None:
        self.api, self.connection, self.settings, self.tz = api, connection, settings, tz

    def to_lead(self, raw: dict[str, Any]) -> Lead | Rejected:
        record_id = field_value(raw, "$id")
        if record_id is None:
            return Rejected(key=f"{self.connection}:?", reason="record has no $id", payload=raw)
        s = self.settings

        def text(name: str) -> str | None:
            value = field_value(raw, s.lead_field(name))
            return nfkc(str(value)) if value is not None else None

        try:
            email = field_value(raw, s.lead_field("email"))
            return Lead(
                key=lead_key(email, self.connection, str(record_id)),
                email=normalize_email(email),
                refs={self.connection: str(record_id)},
                first_name=text("first_name"), last_name=text("last_name"), company=text("company"),
                title=text("title"), department=text("department"), phone=text("phone"),
                employees=parse_employees(text("employees")), employees_text=text("employees"),
                industry=text("industry"), lead_source=text("lead_source"), owner=text("owner"),
                status=text("status"), status_reason=text("status_reason"),
                created_at=parse_datetime(text("created_at"), self.tz),
                updated_at=parse_datetime(text("updated_at"), self.tz),
            )
        except (ValueError, TypeError) as exc:
            return Rejected(key=f"{self.connection}:{record_id}", reason=f"record {record_id}: {exc}", payload=raw)

    def read(self, ctx: ReadContext) -> Iterator[Page]:
        s = self.settings
        codes = [s.lead_field(name) for name in DEFAULT_LEAD_FIELDS if not name.startswith(("score", "behavior",
                                                                                          "attribute", "segment",
                                                                                          "sheet", "scored"))]
        yield from _seek(self.api, s.leads_app, s.lead_field("updated_at"), codes, ctx, s.initial_days, self.to_lead)


class ActivitiesStream(Stream):
    name = "activities"

    def __init__(self, api: KintoneApi, connection: str, settings: KintoneSettings, tz: str) -> None:
        self.api, self.connection, self.settings, self.tz = api, connection, settings, tz

    def to_activity(self, raw: dict[str, Any]) -> Activity | Rejected:
        s = self.settings
        record_id = field_value(raw, "$id")
        key = f"{self.connection}:activity:{record_id}"
        label = field_value(raw, s.activity_field("type"))
        kind = ACTIVITY_LABELS.get(str(label)) if label is not None else None
        if kind is None:
            try:
                kind = ActivityType(str(label).strip().lower())
            except ValueError:
                return Rejected(key=key, reason=f"record {record_id}: unknown activity type {label!r}", payload=raw)
        occurred = parse_datetime(field_value(raw, s.activity_field("occurred_at")), self.tz)
        email = normalize_email(field_value(raw, s.activity_field("email")))
        if occurred is None or email is None:
            return Rejected(key=key, reason=f"record {record_id}: needs an e-mail and a date", payload=raw)
        duration = field_value(raw, s.activity_field("duration_seconds"))
        try:
            seconds = int(float(duration)) if duration is not None else None
        except ValueError:
            seconds = None
        url = field_value(raw, s.activity_field("url"))
        outcome = field_value(raw, s.activity_field("outcome"))
        return Activity(source_id=f"{s.activities_app}:{record_id}", connection=self.connection, email=email,
                        type=kind, occurred_at=occurred, url=str(url) if url else None, duration_seconds=seconds,
                        outcome=str(outcome) if outcome else None)

    def read(self, ctx: ReadContext) -> Iterator[Page]:
        s = self.settings
        assert s.activities_app is not None
        codes = [s.activity_field(name) for name in DEFAULT_ACTIVITY_FIELDS]
        yield from _seek(self.api, s.activities_app, s.activity_field("updated_at"), codes, ctx, s.initial_days,
                         self.to_activity)


class TasksStream(Stream):
    """Completion of tasks leadsync created in the To-Do app (for SLA and first-touch reports)."""

    name = "tasks"

    def __init__(self, api: KintoneApi, connection: str, settings: KintoneSettings, tz: str) -> None:
        self.api, self.connection, self.settings, self.tz = api, connection, settings, tz

    def to_update(self, raw: dict[str, Any]) -> TaskUpdate | Rejected:
        s = self.settings
        key = field_value(raw, s.task_field("key"))
        if not key:
            return Rejected(key=f"{self.connection}:task:{field_value(raw, '$id')}", reason="task without key",
                            payload=raw)
        done = str(field_value(raw, s.task_field("status")) or "") in s.task_done_values
        completed = parse_datetime(field_value(raw, s.task_field("completed_at")), self.tz) if done else None
        if done and completed is None:
            completed = parse_datetime(field_value(raw, s.task_field("updated_at")), self.tz)
        return TaskUpdate(key=str(key), completed_at=completed, external_id=str(field_value(raw, "$id")))

    def read(self, ctx: ReadContext) -> Iterator[Page]:
        s = self.settings
        assert s.tasks_app is not None
        codes = [s.task_field(name) for name in ("key", "status", "completed_at", "updated_at")]
        yield from _seek(self.api, s.tasks_app, s.task_field("updated_at"), codes, ctx, s.initial_days,
                         self.to_update)


__all__ += ["ACTIVITY_LABELS", "DEFAULT_TASK_FIELDS"]
