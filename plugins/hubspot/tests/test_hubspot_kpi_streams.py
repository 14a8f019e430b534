"""Calls, meetings and deals against the fake HubSpot: owners, outcomes, bookings, won/lost deals."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from leadsync.connectors import ReadContext, Rejected
from leadsync_hubspot.testing import HubSpotFake
from leadsync.connectors.testing import FakeServer
from leadsync.core.models import Activity, ActivityType, Opportunity, OpportunityStatus
from leadsync_hubspot import HubSpotConnector, HubSpotSettings
from leadsync_hubspot.kpi_streams import CALL_DISPOSITIONS

T0 = 1_743_400_000_000  # 2025-03-31


@pytest.fixture
def fake():
    app = HubSpotFake()
    with FakeServer(app) as server:
        yield app, server


def _read(url: str) -> dict[str, list]:
    settings = HubSpotSettings.model_validate({"plugin": "hubspot", "token": "pat-fake-token", "base_url": url,
                                               "roles": ["activities"]})
    hub = HubSpotConnector("crm", settings)
    hub.client._sleep = lambda s: None
    signpost = datetime.fromtimestamp(T0 / 1000 + 86_400, tz=timezone.utc)
    found = {}
    for stream in hub.streams():
        pages = stream.read(ReadContext(cursor={"lo": T0 - 1000}, signpost=signpost))
        found[stream.name] = [r for p in pages for r in p.records]
    hub.close()
    return found


def test_calls_meetings_and_deals(fake):
    app, server = fake
    contact = app.add("contacts", {"email": "a@x.jp"}, modified_ms=T0)
    connected = next(g for g, o in CALL_DISPOSITIONS.items() if o == "connected")
    no_answer = next(g for g, o in CALL_DISPOSITIONS.items() if o == "no_answer")
    app.add("calls", {"hs_timestamp": str(T0), "hs_call_duration": "125000", "hs_call_disposition": connected,
                      "hubspot_owner_id": "77"}, modified_ms=T0 + 1, contact_id=contact)
    app.add("calls", {"hs_timestamp": str(T0 + 5), "hs_call_duration": "0", "hs_call_disposition": no_answer,
                      "hubspot_owner_id": "77"}, modified_ms=T0 + 2, contact_id=contact)
    app.add("calls", {"hs_timestamp": str(T0 + 6), "hs_call_disposition": "custom-guid-1"}, modified_ms=T0 + 3,
            contact_id=contact)
    app.add("meetings", {"hs_timestamp": str(T0 + 3_600_000), "hs_meeting_start_time": str(T0 + 3_600_000),
                         "hs_meeting_end_time": str(T0 + 7_200_000), "hs_meeting_outcome": "NO_SHOW",
                         "hubspot_owner_id": "78"}, created_ms=T0 - 86_400_000, modified_ms=T0 + 4, contact_id=contact)
    app.add("deals", {"dealname": "導入", "amount": "1200000", "closedate": str(T0 + 10), "hs_is_closed": "true",
                      "hs_is_closed_won": "true", "dealstage": "closedwon", "hubspot_owner_id": "77"},
            created_ms=T0 - 5 * 86_400_000, modified_ms=T0 + 5, contact_id=contact)
    app.add("deals", {"dealname": "失注", "closedate": str(T0 + 20), "hs_is_closed": "true", "hs_is_closed_won": "false",
                      "closed_lost_reason": "価格"}, modified_ms=T0 + 6, contact_id=contact)
    app.add("deals", {"dealname": "進行中", "closedate": str(T0 + 99_000_000), "hs_is_closed": "false"},
            modified_ms=T0 + 7, contact_id=contact)
    app.add("deals", {"dealname": "no contact", "hs_is_closed": "false"}, modified_ms=T0 + 8)
    app.add("deals", {"dealname": "broken", "hs_is_closed": "true", "hs_is_closed_won": "true"}, modified_ms=T0 + 9,
            contact_id=contact)
    found = _read(server.url)
    calls = found["activities_calls"]
    assert [(c.outcome, c.duration_seconds, c.owner) for c in calls] == [
        ("connected", 125, "77"), ("no_answer", 0, "77"), ("custom-guid-1", None, None)]
    assert all(c.type is ActivityType.CALL and c.lead_record_id == contact for c in calls)
    held, booked = found["activities_meetings"]
    assert held.type is ActivityType.MEETING and held.outcome == "no_show" and held.owner == "78"
    assert booked.type is ActivityType.MEETING_SET and booked.source_id.endswith(":set")
    assert booked.occurred_at.timestamp() * 1000 == T0 - 86_400_000
    won, lost, open_, broken = found["opportunities"]  # the deal without a contact is no lead's
    assert isinstance(won, Opportunity) and won.status is OpportunityStatus.WON and won.amount == 1_200_000
    assert won.lead_record_id == contact and won.owner == "77" and won.closed_at.timestamp() * 1000 == T0 + 10
    assert lost.status is OpportunityStatus.LOST and lost.lost_reason == "価格"
    assert open_.status is OpportunityStatus.OPEN and open_.closed_at is None  # closedate is only expected
    assert isinstance(broken, Rejected) and "closedate" in broken.reason
    assert isinstance(calls[0], Activity)
    assert server.requests_to(r"/crm/v4/associations/deals/contacts/batch/read")
