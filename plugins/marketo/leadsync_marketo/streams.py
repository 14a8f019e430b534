"""Marketo streams: changed leads (lead changes -> leads by id) and activities, both by paging token."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from leadsync.connectors import Incremental, Page, ReadContext, Rejected, Stream, parse_datetime
from leadsync.core.models import Activity, Lead

from leadsync_marketo.client import MarketoClient, marketo_time
from leadsync_marketo.mapping import to_activity, to_lead
from leadsync_marketo.settings import DEFAULT_ACTIVITY_TYPES, LEAD_READ_FIELDS, MarketoSettings

__all__ = ["ActivitiesStream", "LeadsStream", "lead_fields"]

def _start(ctx: ReadContext, settings: MarketoSettings, overlap: timedelta) -> tuple[Incremental, dict[str, Any]]:
    """This run's window (from the stored watermark minus `overlap`, up to the signpost), and the
    cursor of an interrupted run to resume (if any)."""
    cursor = {} if ctx.full_refresh or not ctx.cursor else dict(ctx.cursor)
    stored = parse_datetime(cursor.get("since")) if cursor.get("since") else None
    if stored is None:
        cursor = {}
    window = Incremental.of(ctx, stored, initial=timedelta(days=settings.initial_days), lookback=overlap)
    return window, cursor


def _advance(window: Incremental, max_seen: str | None) -> str:
    """The next run's watermark: the newest timestamp seen, never past the run's signpost."""
    return marketo_time(window.advance(parse_datetime(max_seen) if max_seen else None))


def _later(current: str | None, value: Any) -> str | None:
    moment = parse_datetime(value) if value else None
    if moment is None:
        return current
    if current is None or moment > parse_datetime(current):  # type: ignore[operator]
        return marketo_time(moment)
    return current


def lead_fields(client: MarketoClient, settings: MarketoSettings) -> tuple[list[str], list[str]]:
    """(fields to read, fields whose changes to watch): mapped fields the instance has."""
    available = client.describe_fields()
    mapped = [settings.field(name) for name in LEAD_READ_FIELDS]
    read = ["id"] + [f for f in dict.fromkeys(mapped) if f and f in available and f != "id"]
    # leadsync's own score fields are not watched: a score push must not look like a change.
    watch = [f for f in read if f not in ("id", "createdAt", "updatedAt")]
    return read, watch or ["email"]


class LeadsStream(Stream):
    """Leads changed since the cursor: Get Lead Changes for ids, then Get Leads by id (≤300)."""

    name = "leads"

    def __init__(self, client: MarketoClient, connection: str, settings: MarketoSettings, tz: str,
                 yielded: set[str] | None = None) -> None:
        self.client, self.connection, self.settings, self.tz = client, connection, settings, tz
        self.yielded = yielded if yielded is not None else set()

    def read(self, ctx: ReadContext) -> Iterator[Page]:
        read_fields, watch_fields = lead_fields(self.client, self.settings)
        window, cursor = _start(ctx, self.settings, ctx.lookback)
        assert window.since is not None and window.start is not None
        since, since_text = window.start, cursor.get("since") or marketo_time(window.since)
        max_seen: str | None = cursor.get("max_seen")
        token = cursor.get("token") or self.client.paging_token(since)
        pages = self.client.token_pages(
            "/rest/v1/activities/leadchanges.json", token, {"fields": ",".join(watch_fields)}
        )
        for changes, token, more in pages:
            ids: list[str] = []
            records: list[Lead | Rejected] = []
            for change in changes:
                if not isinstance(change, dict) or change.get("leadId") is None:
                    records.append(Rejected(key=f"{self.connection}:change", reason="lead change without leadId",
                                            payload=change if isinstance(change, dict) else {"raw": change}))
                    continue
                ids.append(str(change["leadId"]))
                max_seen = _later(max_seen, change.get("activityDate"))
            unique = list(dict.fromkeys(ids))
            for raw in self.client.leads_by_id(unique, read_fields) if unique else []:
                lead = to_lead(raw, self.connection, self.settings, self.tz)
                if isinstance(lead, Lead):
                    self.yielded.add(lead.refs[self.connection])
                records.append(lead)
            if more:
                next_cursor = {"since": since_text, "token": token, "max_seen": max_seen}
            else:
                next_cursor = {"since": _advance(window, max_seen)}
            yield Page(records, next_cursor)


class ActivitiesStream(Stream):
    """Scoring-relevant activities by paging token, ≤10 type ids per pass, with a late-arrival overlap.

    Each page starts with the Lead records of the leads its activities belong to that this run has
    not yielded yet (Get Leads by id, ≤300 a call): a lead created long ago and unchanged since is
    not in the lead-changes window, and the engine places an activity by the (connection, lead id)
    of a lead it already stored, so the lead must come before its activities.
    """

    name = "activities"

    def __init__(self, client: MarketoClient, connection: str, settings: MarketoSettings, tz: str = "UTC",
                 yielded: set[str] | None = None) -> None:
        self.client, self.connection, self.settings, self.tz = client, connection, settings, tz
        self.yielded = yielded if yielded is not None else set()
        self._read_fields: list[str] | None = None

    def _with_leads(self, records: list[Activity | Rejected]) -> list[Lead | Activity | Rejected]:
        """The page's records, preceded by the leads they reference that this run has not yielded."""
        wanted = list(dict.fromkeys(r.lead_record_id for r in records
                                    if isinstance(r, Activity) and r.lead_record_id
                                    and r.lead_record_id not in self.yielded))
        if not wanted:
            return list(records)
        if self._read_fields is None:
            self._read_fields = lead_fields(self.client, self.settings)[0]
        leads: list[Lead | Activity | Rejected] = []
        for raw in self.client.leads_by_id(wanted, self._read_fields):
            lead = to_lead(raw, self.connection, self.settings, self.tz)
            if isinstance(lead, Lead):
                self.yielded.add(lead.refs[self.connection])
                leads.append(lead)
        out: list[Lead | Activity | Rejected] = leads
        for record in records:
            if isinstance(record, Activity) and record.lead_record_id not in self.yielded:
                out.append(Rejected(
                    key=f"{self.connection}:activity:{record.source_id}",
                    reason=f"activity {record.source_id}: Marketo lead {record.lead_record_id} not found by id "
                           "(deleted or merged into another lead)",
                    payload=record.model_dump(mode="json")))
            else:
                out.append(record)
        return out

    def read(self, ctx: ReadContext) -> Iterator[Page]:
        instance_types = self.client.activity_types()
        wanted = {**DEFAULT_ACTIVITY_TYPES, **self.settings.activity_types}
        type_ids = sorted(instance_types[name] for name in wanted if name in instance_types)
        type_names = {type_id: name for name, type_id in instance_types.items()}
        overlap = max(ctx.lookback, timedelta(minutes=self.settings.activity_overlap_minutes))
        window, cursor = _start(ctx, self.settings, overlap)
        assert window.since is not None and window.start is not None
        since, since_text = window.start, cursor.get("since") or marketo_time(window.since)
        groups = [type_ids[i : i + 10] for i in range(0, len(type_ids), 10)]
        max_seen: str | None = cursor.get("max_seen")
        first_group = int(cursor.get("group", 0)) if cursor.get("groups") == groups else 0
        if not groups:
            yield Page([], {"since": since_text})
            return
        for index in range(first_group, len(groups)):
            group = groups[index]
            resume = index == first_group and cursor.get("token") and cursor.get("groups") == groups
            token = cursor["token"] if resume else self.client.paging_token(since)
            pages = self.client.token_pages(
                "/rest/v1/activities.json", token, {"activityTypeIds": ",".join(map(str, group))}
            )
            for items, token, more in pages:
                records: list[Activity | Rejected] = []
                seen: set[str] = set()
                for raw in items:
                    if not isinstance(raw, dict):
                        records.append(Rejected(key=f"{self.connection}:activity:?", reason="activity is not an object",
                                                payload={"raw": raw}))
                        continue
                    record = to_activity(raw, self.connection, type_names, self.settings)
                    max_seen = _later(max_seen, raw.get("activityDate"))
                    if record is None or (isinstance(record, Activity) and record.source_id in seen):
                        continue
                    if isinstance(record, Activity):
                        seen.add(record.source_id)
                    records.append(record)
                last = index == len(groups) - 1 and not more
                if last:
                    next_cursor: dict[str, Any] = {"since": _advance(window, max_seen)}
                else:
                    next_cursor = {"since": since_text, "groups": groups, "max_seen": max_seen,
                                   "group": index if more else index + 1, "token": token if more else None}
                yield Page(self._with_leads(records), next_cursor)
