"""Leads Marketo deleted or merged away, as RemovedLead: Get Deleted Leads and Merge Leads activities.

Delete Lead activities (type 37) come from `activities/deletedleads.json`, one `leadId` each.
A merge keeps the winning lead's id and removes the losers; Marketo records one "Merge Leads"
activity (type 32) on the winner whose "Merge IDs" attribute lists the losers (e.g. "[1324]").
The activities stream reads Merge Leads in its last pass of type ids (no extra call); the
removed-leads stream reads them itself only when the connection has no activities role.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from leadsync.connectors import Page, ReadContext, Rejected, RemovedLead, Stream, parse_datetime
from leadsync.core.models import Lead

from leadsync_marketo.client import MarketoClient, marketo_time
from leadsync_marketo.reading import advance, lead_fields, later, start
from leadsync_marketo.mapping import to_lead
from leadsync_marketo.settings import MarketoSettings

__all__ = ["MERGE_LEADS", "MergeReader", "RemovedLeadsStream", "merge_ids"]

MERGE_LEADS = "Merge Leads"


def merge_ids(raw: dict[str, Any]) -> list[str] | None:
    """The losers a Merge Leads activity names in its "Merge IDs" attribute (None: none readable)."""
    for attribute in raw.get("attributes") or []:
        if isinstance(attribute, dict) and str(attribute.get("name", "")).strip().lower() == "merge ids":
            value = attribute.get("value")
            items = value if isinstance(value, list) else str(value or "").strip().strip("[]").split(",")
            ids = [str(item).strip() for item in items if str(item).strip()]
            return ids if ids and all(i.isdigit() for i in ids) else None
    return None


class MergeReader:
    """Merge Leads activities as records: each winner's Lead (read by id unless this run already
    handed it over), then a RemovedLead for each loser, merged into it."""

    def __init__(self, client: MarketoClient, connection: str, settings: MarketoSettings, tz: str,
                 yielded: set[str], merged: set[str]) -> None:
        self.client, self.connection, self.settings, self.tz = client, connection, settings, tz
        self.yielded, self.merged = yielded, merged
        self._read_fields: list[str] | None = None

    def records(self, merges: list[dict[str, Any]]) -> list[Lead | RemovedLead | Rejected]:
        pairs: list[tuple[str, str]] = []
        out: list[Lead | RemovedLead | Rejected] = []
        for raw in merges:
            losers, winner = merge_ids(raw), raw.get("leadId")
            if losers is None or winner is None:
                out.append(Rejected(key=f"{self.connection}:merge:{raw.get('marketoGUID') or raw.get('id')}",
                                    reason="Merge Leads activity without a leadId or readable Merge IDs",
                                    payload=raw))
                continue
            pairs.extend((loser, str(winner)) for loser in losers if loser != str(winner))
        wanted = list(dict.fromkeys(w for _, w in pairs if w not in self.yielded))
        if wanted:
            if self._read_fields is None:
                self._read_fields = lead_fields(self.client, self.settings)[0]
            for raw in self.client.leads_by_id(wanted, self._read_fields):
                lead = to_lead(raw, self.connection, self.settings, self.tz)
                if isinstance(lead, Lead):
                    self.yielded.add(lead.refs[self.connection])
                    out.append(lead)
        for loser, winner in pairs:
            self.merged.add(loser)
            self.yielded.discard(loser)
            out.append(RemovedLead(loser, merged_into=winner))
        return out


class RemovedLeadsStream(Stream):
    """Deleted leads (Get Deleted Leads), and merges too when no activities stream reads them.

    A lead a merge removed that Get Deleted Leads also lists is not reported again as a deletion
    (the merge, read first, said where it went). Deletions dated after the run's signpost wait for
    the next run, whose merge pass will have seen a merge made while this run was reading.
    """

    name = "leads_removed"

    def __init__(self, client: MarketoClient, connection: str, settings: MarketoSettings, tz: str,
                 yielded: set[str], merged: set[str], *, read_merges: bool) -> None:
        self.client, self.connection, self.settings = client, connection, settings
        self.merged, self.read_merges = merged, read_merges
        self.merges = MergeReader(client, connection, settings, tz, yielded, merged)

    def read(self, ctx: ReadContext) -> Iterator[Page]:
        overlap = max(ctx.lookback, timedelta(minutes=self.settings.activity_overlap_minutes))
        window, cursor = start(ctx, self.settings, overlap)
        assert window.start is not None and window.since is not None
        since_text = cursor.get("since") or marketo_time(window.since)
        max_seen: str | None = cursor.get("max_seen")
        phases = ["merges", "deletes"] if self.read_merges else ["deletes"]
        first = phases.index(cursor["phase"]) if cursor.get("phase") in phases else 0
        shared_token: str | None = None
        for index in range(first, len(phases)):
            phase = phases[index]
            token = cursor.get("token") if index == first and cursor.get("token") else None
            if token is None:  # one date-based token serves both endpoints (Adobe's paging-token page)
                shared_token = shared_token or self.client.paging_token(window.start)
                token = shared_token
            for items, token, more in self._pages(phase, token):
                records: list[Any] = []
                for raw in items:
                    if not isinstance(raw, dict):
                        continue
                    moment = parse_datetime(raw.get("activityDate")) if raw.get("activityDate") else None
                    if moment is not None and moment > window.end:
                        continue  # read again next run, after that run's merge pass
                    max_seen = later(max_seen, raw.get("activityDate"))
                    records.append(raw)
                out = self.merges.records(records) if phase == "merges" else self._deletions(records)
                if index == len(phases) - 1 and not more:
                    yield Page(out, {"since": advance(window, max_seen)})
                else:
                    yield Page(out, {"since": since_text, "max_seen": max_seen,
                                     "phase": phase if more else phases[index + 1], "token": token if more else None})

    def _pages(self, phase: str, token: str) -> Iterator[tuple[list[Any], str, bool]]:
        if phase == "deletes":
            return self.client.token_pages("/rest/v1/activities/deletedleads.json", token, {})
        type_id = self.client.activity_types().get(MERGE_LEADS)
        if type_id is None:
            return iter([([], token, False)])
        return self.client.token_pages("/rest/v1/activities.json", token, {"activityTypeIds": str(type_id)})

    def _deletions(self, items: list[dict[str, Any]]) -> list[RemovedLead | Rejected]:
        out: list[RemovedLead | Rejected] = []
        seen: set[str] = set()
        for raw in items:
            if raw.get("leadId") is None:
                out.append(Rejected(key=f"{self.connection}:deleted:{raw.get('marketoGUID') or raw.get('id')}",
                                    reason="deleted-lead activity without leadId", payload=raw))
                continue
            lead_id = str(raw["leadId"])
            if lead_id in self.merged or lead_id in seen:
                continue
            seen.add(lead_id)
            out.append(RemovedLead(lead_id))
        return out
