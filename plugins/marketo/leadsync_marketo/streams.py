"""Marketo streams: changed leads (lead changes -> leads by id) and activities, both by paging token."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from leadsync.connectors import Page, ReadContext, Rejected, RemovedLead, Stream
from leadsync.core.models import Activity, Lead

from leadsync_marketo.client import MarketoClient, marketo_time
from leadsync_marketo.reading import advance as _advance, later as _later, lead_fields, start as _start
from leadsync_marketo.mapping import to_activity, to_lead
from leadsync_marketo.removals import MERGE_LEADS, MergeReader
from leadsync_marketo.settings import DEFAULT_ACTIVITY_TYPES, MarketoSettings

__all__ = ["ActivitiesStream", "LeadsStream", "lead_fields"]


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

    Merge Leads activities ride along in the last pass of type ids (a pass has room for ten) and
    end the page as the winner's Lead and a RemovedLead for each loser (`MergeReader`).
    """

    name = "activities"

    def __init__(self, client: MarketoClient, connection: str, settings: MarketoSettings, tz: str = "UTC",
                 yielded: set[str] | None = None, merged: set[str] | None = None) -> None:
        self.client, self.connection, self.settings, self.tz = client, connection, settings, tz
        self.yielded = yielded if yielded is not None else set()
        self.merges = MergeReader(client, connection, settings, tz, self.yielded, merged if merged is not None else set())
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
        merge_type = instance_types.get(MERGE_LEADS)
        if merge_type is not None and merge_type not in type_ids:
            type_ids.append(merge_type)  # the last id of the last pass: no extra pass while there is room
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
                merges: list[dict[str, Any]] = []
                seen: set[str] = set()
                for raw in items:
                    if not isinstance(raw, dict):
                        records.append(Rejected(key=f"{self.connection}:activity:?", reason="activity is not an object",
                                                payload={"raw": raw}))
                        continue
                    max_seen = _later(max_seen, raw.get("activityDate"))
                    if merge_type is not None and raw.get("activityTypeId") == merge_type:
                        merges.append(raw)
                        continue
                    record = to_activity(raw, self.connection, type_names, self.settings)
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
                removed: list[Lead | RemovedLead | Rejected] = self.merges.records(merges) if merges else []
                yield Page([*self._with_leads(records), *removed], next_cursor)
