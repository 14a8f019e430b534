"""kintone streams: leads, activities and completed tasks, by `更新日時 >= watermark` and `$id` seek.

UPDATED_TIME has minute precision, so the watermark is compared with ``>=`` (re-reading the last
minute; the engine deduplicates) and a run pages by ``$id > last`` (never ``offset``, capped at 10,000).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from leadsync.connectors import Incremental, Page, ReadContext, Rejected, Stream, parse_datetime

from leadsync_kintone.client import KintoneClient
from leadsync_kintone.mapping import field_value, kintone_time, to_activity, to_lead, to_update
from leadsync_kintone.settings import DEFAULT_ACTIVITY_FIELDS, DEFAULT_LEAD_FIELDS, KintoneSettings

__all__ = ["ActivitiesStream", "LeadsStream", "TasksStream"]


def _seek(client: KintoneClient, app: int, updated_code: str, fields: list[str], ctx: ReadContext, initial_days: int,
          convert: Callable[[dict[str, Any]], Any]) -> Iterator[Page]:
    cursor = {} if ctx.full_refresh or not ctx.cursor else dict(ctx.cursor)
    stored = parse_datetime(cursor.get("since")) if cursor.get("since") else None
    if stored is None:
        cursor = {}
    window = Incremental.of(ctx, stored, initial=timedelta(days=initial_days))
    assert window.since is not None and window.start is not None
    since = window.since
    since_text = kintone_time(since)
    last_id = int(cursor.get("last_id", 0))
    max_seen: str | None = cursor.get("max_seen")
    condition = f'{updated_code} >= "{kintone_time(window.start)}"'
    codes = list(dict.fromkeys(["$id", "$revision", updated_code, *[c for c in fields if c]]))
    emitted = False
    for raw_records in client.seek(app, condition, codes, last_id):
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
        done = len(raw_records) < client.settings.page_size
        if done:
            watermark = window.advance(parse_datetime(max_seen) if max_seen else None)
            yield Page(records, {"since": kintone_time(watermark)})
            emitted = True
        else:
            yield Page(records, {"since": since_text, "last_id": last_id, "max_seen": max_seen})
    if not emitted:  # the last page was exactly full: the next (empty) page ended the read
        yield Page([], {"since": kintone_time(window.advance(parse_datetime(max_seen) if max_seen else None))})


class LeadsStream(Stream):
    name = "leads"

    def __init__(self, client: KintoneClient, connection: str, settings: KintoneSettings, tz: str) -> None:
        self.client, self.connection, self.settings, self.tz = client, connection, settings, tz

    def read(self, ctx: ReadContext) -> Iterator[Page]:
        s = self.settings
        codes = [s.lead_field(name) for name in DEFAULT_LEAD_FIELDS if not name.startswith(("score", "behavior",
                                                                                          "attribute", "segment",
                                                                                          "sheet", "scored"))]
        yield from _seek(self.client, s.leads_app, s.lead_field("updated_at"), codes, ctx, s.initial_days, lambda raw: to_lead(raw, self.connection, s, self.tz))


class ActivitiesStream(Stream):
    name = "activities"

    def __init__(self, client: KintoneClient, connection: str, settings: KintoneSettings, tz: str) -> None:
        self.client, self.connection, self.settings, self.tz = client, connection, settings, tz

    def read(self, ctx: ReadContext) -> Iterator[Page]:
        s = self.settings
        assert s.activities_app is not None
        codes = [s.activity_field(name) for name in DEFAULT_ACTIVITY_FIELDS]
        yield from _seek(self.client, s.activities_app, s.activity_field("updated_at"), codes, ctx, s.initial_days,
                         lambda raw: to_activity(raw, self.connection, s, self.tz))


class TasksStream(Stream):
    """Completion of tasks leadsync created in the To-Do app (for SLA and first-touch reports), each
    naming its lead by the To-Do's lead link (the lead record id) and e-mail, and its owner."""

    name = "tasks"

    def __init__(self, client: KintoneClient, connection: str, settings: KintoneSettings, tz: str) -> None:
        self.client, self.connection, self.settings, self.tz = client, connection, settings, tz

    def read(self, ctx: ReadContext) -> Iterator[Page]:
        s = self.settings
        assert s.tasks_app is not None
        codes = [s.task_field(name) for name in ("key", "status", "completed_at", "updated_at", "lead_record_id",
                                                 "email", "owner")]
        yield from _seek(self.client, s.tasks_app, s.task_field("updated_at"), codes, ctx, s.initial_days,
                         lambda raw: to_update(raw, self.connection, s, self.tz))

