"""Inside-sales streams: calls with rep and outcome, meetings booked and held, deals as opportunities.

Calls: `hs_call_duration` is in milliseconds; `hs_call_disposition` holds the outcome's internal
GUID (HubSpot's six default outcomes have fixed GUIDs, mapped below; a portal's custom outcomes
are kept as their GUID). Meetings: `hs_createdate` is when it was booked (a `meeting_set`), the
start time carries `hs_meeting_outcome` (SCHEDULED, COMPLETED, RESCHEDULED, NO_SHOW, CANCELED).
Deals: searched on `hs_lastmodifieddate`, linked to their first associated contact (v4
associations deals -> contacts); `hs_is_closed_won` / `hs_is_closed` give won or lost.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from leadsync.connectors import HttpClient, Rejected, Stream, normalize_outcome
from leadsync.core.models import Activity, ActivityType, Opportunity, OpportunityStatus

from leadsync_hubspot.firstsync import FirstSyncPlan
from leadsync_hubspot.mapping import _datetime
from leadsync_hubspot.settings import HubSpotSettings
from leadsync_hubspot.streams import _ENGAGEMENT_PROPERTIES, EngagementStream

__all__ = ["CALL_DISPOSITIONS", "DealsStream", "SalesEngagementStream", "opportunity_from_deal", "sales_streams"]

# HubSpot's default call outcomes: internal GUID -> canonical outcome.
CALL_DISPOSITIONS = {
    "f240bbac-87c9-4f6e-bf70-924b57d47db7": "connected",
    "73a0d17f-1163-4015-bdd5-ec830791da20": "no_answer",
    "b2cf5968-551e-4856-9783-52b3da59a7d0": "voicemail",
    "a4c4c377-d246-4b32-a13b-75a56a4cd0ff": "left_live_message",
    "9d9162e7-6cf3-4944-bf63-4dff82258764": "busy",
    "17b47fee-58de-441e-a44c-c6300d46f273": "wrong_number",
}
SALES_PROPERTIES = {
    **_ENGAGEMENT_PROPERTIES,
    "calls": [*_ENGAGEMENT_PROPERTIES["calls"], "hubspot_owner_id"],
    "meetings": [*_ENGAGEMENT_PROPERTIES["meetings"], "hubspot_owner_id", "hs_createdate"],
    "deals": ["dealname", "amount", "createdate", "closedate", "dealstage", "pipeline", "hs_is_closed",
              "hs_is_closed_won", "closed_lost_reason", "hubspot_owner_id"],
}


class SalesEngagementStream(EngagementStream):
    """Calls and meetings with the rep and a canonical outcome; a meeting also yields its booking."""

    properties = SALES_PROPERTIES

    def _activities(self, results: list[dict[str, Any]]) -> list[Any]:
        records: list[Any] = []
        by_source = {f"{self.object_type}:{r.get('id')}": r for r in reversed(results)}  # the first of an id wins
        for record in super()._activities(results):
            if not isinstance(record, Activity):
                records.append(record)
                continue
            raw = by_source.get(record.source_id, {})
            props = raw.get("properties") or {}
            owner = props.get("hubspot_owner_id") or None
            outcome = record.outcome
            if self.object_type == "calls":
                disposition = props.get("hs_call_disposition")
                outcome = CALL_DISPOSITIONS.get(str(disposition), disposition) if disposition else None
                outcome = normalize_outcome(outcome) if outcome else normalize_outcome(props.get("hs_call_status"))
            elif self.object_type == "meetings":
                outcome = normalize_outcome(outcome)
            record = record.model_copy(update={"owner": owner, "outcome": outcome})
            records.append(record)
            booked = _datetime(props.get("hs_createdate")) if self.object_type == "meetings" else None
            if booked is not None:
                records.append(record.model_copy(update={
                    "source_id": f"{record.source_id}:set", "type": ActivityType.MEETING_SET, "occurred_at": booked,
                    "outcome": None, "duration_seconds": None}))
        return records


class DealsStream(EngagementStream):
    """Deals as opportunities of their first associated contact (incremental on hs_lastmodifieddate)."""

    properties = SALES_PROPERTIES

    def __init__(self, client: HttpClient, settings: HubSpotSettings, connection: str,
                 plan: FirstSyncPlan | None = None) -> None:
        super().__init__(client, settings, connection, "deals", plan)
        self.name = "opportunities"  # type: ignore[misc]

    def _activities(self, results: list[dict[str, Any]]) -> list[Any]:
        contacts = self._contacts([str(r.get("id")) for r in results if r.get("id")])
        return [opportunity_from_deal(r, contacts[str(r.get("id"))][0], self.connection)
                for r in results if contacts.get(str(r.get("id") or ""))]


def opportunity_from_deal(record: dict[str, Any], contact_id: str, connection: str) -> Opportunity | Rejected:
    """One deal as an Opportunity of the contact; Rejected when its dates or amount are broken."""
    record_id = str(record.get("id") or "")
    props = record.get("properties") or {}
    try:
        created = _datetime(props.get("createdate")) or _datetime(record.get("createdAt"))
        if created is None:
            raise ValueError("createdate is missing")
        won = str(props.get("hs_is_closed_won") or "").lower() == "true"
        closed = won or str(props.get("hs_is_closed") or "").lower() == "true"
        status = OpportunityStatus.WON if won else OpportunityStatus.LOST if closed else OpportunityStatus.OPEN
        closed_at = _datetime(props.get("closedate")) if closed else None
        if closed and closed_at is None:
            raise ValueError("closed but closedate is missing")
        amount = props.get("amount")
        return Opportunity(
            source_id=f"deals:{record_id}", connection=connection, lead_record_id=contact_id,
            name=props.get("dealname"), created_at=created, stage=props.get("dealstage"),
            amount=float(amount) if amount not in (None, "") else None, closed_at=closed_at, status=status,
            lost_reason=(props.get("closed_lost_reason") or None) if status is OpportunityStatus.LOST else None,
            owner=props.get("hubspot_owner_id") or None, details={"pipeline": props.get("pipeline")},
        )
    except (ValueError, ValidationError) as exc:
        return Rejected(key=f"deals:{record_id}", reason=f"deal {record_id}: {str(exc).splitlines()[0]}", payload=record)


def sales_streams(client: HttpClient, settings: HubSpotSettings, connection: str) -> list[Stream]:
    """The activity streams of the configured `activity_objects`, then deals (one first-sync plan for all)."""
    plan = FirstSyncPlan(client, settings, [*settings.activity_objects, "deals"])
    streams: list[Stream] = [SalesEngagementStream(client, settings, connection, o, plan)
                             for o in settings.activity_objects]
    return [*streams, DealsStream(client, settings, connection, plan)]
