"""Marketo streams: changed leads (lead changes -> leads by id) and activities, both by paging token."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from leadsync.connectors.base import Page, ReadContext, Rejected, Stream
from leadsync.core.models import Activity, ActivityType, Lead
from leadsync.core.normalize import lead_key, nfkc, normalize_email, parse_datetime, parse_employees

from leadsync_marketo.api import MarketoApi, marketo_time
from leadsync_marketo.settings import (
    DEFAULT_ACTIVITY_TYPES,
    DEFAULT_PROGRAM_STATUSES,
    LEAD_READ_FIELDS,
    MarketoSettings,
)

__all__ = ["ActivitiesStream", "LeadsStream", "lead_fields", "to_activity", "to_lead"]

_DOCUMENT_SUFFIXES = (".pdf", ".ppt", ".pptx", ".doc", ".docx", ".xls", ".xlsx", ".zip")
_PROGRESSION = "Change Status in Progression"


def _start(ctx: ReadContext, settings: MarketoSettings, overlap: timedelta) -> tuple[datetime, dict[str, Any]]:
    """Where this run reads from, and the cursor of an interrupted run to resume (if any)."""
    cursor = {} if ctx.full_refresh or not ctx.cursor else dict(ctx.cursor)
    since = parse_datetime(cursor.get("since")) if cursor.get("since") else None
    if since is None:
        since = ctx.signpost - timedelta(days=settings.initial_days)
        cursor = {}
    return since - overlap, cursor


def _advance(max_seen: str | None, since: str, signpost: datetime) -> str:
    """The next run's watermark: the newest timestamp seen, never past the run's signpost."""
    seen = parse_datetime(max_seen) if max_seen else None
    previous = parse_datetime(since)
    assert previous is not None
    candidate = max(previous, seen) if seen else previous
    return marketo_time(min(candidate, signpost))


def _later(current: str | None, value: Any) -> str | None:
    moment = parse_datetime(value) if value else None
    if moment is None:
        return current
    if current is None or moment > parse_datetime(current):  # type: ignore[operator]
        return marketo_time(moment)
    return current


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


def lead_fields(api: MarketoApi, settings: MarketoSettings) -> tuple[list[str], list[str]]:
    """(fields to read, fields whose changes to watch): mapped fields the instance has."""
    available = api.describe_fields()
    mapped = [settings.field(name) for name in LEAD_READ_FIELDS]
    read = ["id"] + [f for f in dict.fromkeys(mapped) if f and f in available and f != "id"]
    # leadsync's own score fields are not watched: a score push must not look like a change.
    watch = [f for f in read if f not in ("id", "createdAt", "updatedAt")]
    return read, watch or ["email"]


class LeadsStream(Stream):
    """Leads changed since the cursor: Get Lead Changes for ids, then Get Leads by id (≤300)."""

    name = "leads"

    def __init__(self, api: MarketoApi, connection: str, settings: MarketoSettings, tz: str,
                 yielded: set[str] | None = None) -> None:
        self.api, self.connection, self.settings, self.tz = api, connection, settings, tz
        self.yielded = yielded if yielded is not None else set()

    def read(self, ctx: ReadContext) -> Iterator[Page]:
        read_fields, watch_fields = lead_fields(self.api, self.settings)
        since, cursor = _start(ctx, self.settings, ctx.lookback)
        since_text = cursor.get("since") or marketo_time(since + ctx.lookback)
        max_seen: str | None = cursor.get("max_seen")
        token = cursor.get("token") or self.api.paging_token(since)
        pages = self.api.token_pages(
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
            for raw in self.api.leads_by_id(unique, read_fields) if unique else []:
                lead = to_lead(raw, self.connection, self.settings, self.tz)
                if isinstance(lead, Lead):
                    self.yielded.add(lead.refs[self.connection])
                records.append(lead)
            if more:
                next_cursor = {"since": since_text, "token": token, "max_seen": max_seen}
            else:
                next_cursor = {"since": _advance(max_seen, since_text, ctx.signpost)}
            yield Page(records, next_cursor)


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


class ActivitiesStream(Stream):
    """Scoring-relevant activities by paging token, ≤10 type ids per pass, with a late-arrival overlap.

    Each page starts with the Lead records of the leads its activities belong to that this run has
    not yielded yet (Get Leads by id, ≤300 a call): a lead created long ago and unchanged since is
    not in the lead-changes window, and the engine places an activity by the (connection, lead id)
    of a lead it already stored, so the lead must come before its activities.
    """

    name = "activities"

    def __init__(self, api: MarketoApi, connection: str, settings: MarketoSettings, tz: str = "UTC",
                 yielded: set[str] | None = None) -> None:
        self.api, self.connection, self.settings, self.tz = api, connection, settings, tz
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
            self._read_fields = lead_fields(self.api, self.settings)[0]
        leads: list[Lead | Activity | Rejected] = []
        for raw in self.api.leads_by_id(wanted, self._read_fields):
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
        instance_types = self.api.activity_types()
        wanted = {**DEFAULT_ACTIVITY_TYPES, **self.settings.activity_types}
        type_ids = sorted(instance_types[name] for name in wanted if name in instance_types)
        type_names = {type_id: name for name, type_id in instance_types.items()}
        overlap = max(ctx.lookback, timedelta(minutes=self.settings.activity_overlap_minutes))
        since, cursor = _start(ctx, self.settings, overlap)
        since_text = cursor.get("since") or marketo_time(since + overlap)
        groups = [type_ids[i : i + 10] for i in range(0, len(type_ids), 10)]
        max_seen: str | None = cursor.get("max_seen")
        first_group = int(cursor.get("group", 0)) if cursor.get("groups") == groups else 0
        if not groups:
            yield Page([], {"since": since_text})
            return
        for index in range(first_group, len(groups)):
            group = groups[index]
            resume = index == first_group and cursor.get("token") and cursor.get("groups") == groups
            token = cursor["token"] if resume else self.api.paging_token(since)
            pages = self.api.token_pages(
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
                    next_cursor: dict[str, Any] = {"since": _advance(max_seen, since_text, ctx.signpost)}
                else:
                    next_cursor = {"since": since_text, "groups": groups, "max_seen": max_seen,
                                   "group": index if more else index + 1, "token": token if more else None}
                yield Page(self._with_leads(records), next_cursor)
