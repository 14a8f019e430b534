"""Task calls, Events and Opportunities against the fake org: rep, outcomes, bookings, lead links."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from leadsync.connectors import ReadContext, Rejected
from leadsync_salesforce.testing import SalesforceFake
from leadsync.connectors.testing import FakeServer
from leadsync.core.models import ActivityType, Opportunity, OpportunityStatus
from leadsync_salesforce import SalesforceConnector
from leadsync_salesforce.settings import SalesforceSettings

NOW = datetime(2026, 4, 10, 3, 0, tzinfo=timezone.utc)


@pytest.fixture
def org():
    app = SalesforceFake()
    server = FakeServer(app).start()
    app.url = server.url
    yield app, server
    server.stop()


def _read(url: str, **fields: str) -> dict[str, list]:
    settings = SalesforceSettings.model_validate({
        "plugin": "salesforce", "login_url": url, "client_id": "sf-cid", "client_secret": "sf-secret",
        "refresh_token": "sf-rtok", "roles": ["activities"], "fields": fields})
    sf = SalesforceConnector("crm", settings, timezone="Asia/Tokyo")
    signpost = NOW + timedelta(hours=1)
    found = {}
    for stream in sf.streams():
        found[stream.name] = [r for page in stream.read(ReadContext(None, signpost)) for r in page.records]
    sf.close()
    return found


def test_calls_events_and_opportunities(org):
    app, server = org
    app.define_field("Event", "Result__c")
    lead = app.add("Lead", {"Email": "a@x.jp", "LastName": "A", "Company": "X", "Status": "Open", "IsConverted": True},
                   modstamp=NOW)
    contact = app.add("Contact", {"Email": "B@X.JP", "LastName": "B"}, modstamp=NOW)
    app.add("Task", {"WhoId": lead, "TaskSubtype": "Call", "CallDurationInSeconds": 130, "CallDisposition": "通電",
                     "OwnerId": "005000000000001", "Status": "Completed", "CompletedDateTime": "2026-04-09T01:00:00.000+0000"},
            modstamp=NOW)
    app.add("Task", {"WhoId": lead, "TaskSubtype": "Call", "CallDurationInSeconds": 0, "CallDisposition": "不在",
                     "OwnerId": "005000000000002", "Status": "Completed"}, modstamp=NOW)
    app.add("Event", {"WhoId": lead, "StartDateTime": "2026-04-15T05:00:00.000+0000", "DurationInMinutes": 60,
                      "OwnerId": "005000000000001", "Result__c": "実施済み"}, modstamp=NOW)
    won = app.add("Opportunity", {"Name": "導入", "StageName": "Closed Won", "Amount": 1200000, "CloseDate": "2026-04-09",
                                  "IsClosed": True, "IsWon": True, "OwnerId": "005000000000001"}, modstamp=NOW)
    lost = app.add("Opportunity", {"Name": "別件", "StageName": "Closed Lost", "CloseDate": "2026-04-08",
                                   "IsClosed": True, "IsWon": False}, modstamp=NOW)
    app.add("Opportunity", {"Name": "他社案件", "StageName": "Prospecting", "IsClosed": False, "IsWon": False}, modstamp=NOW)
    app.state["objects"]["Lead"][lead]["ConvertedOpportunityId"] = won
    app.add("OpportunityContactRole", {"OpportunityId": lost, "ContactId": contact, "IsPrimary": True}, modstamp=NOW)
    # The won deal also names a contact whose e-mail differs from the Lead's (edited after the
    # conversion): the deal belongs to the Lead it was converted from, as the docs say.
    app.add("OpportunityContactRole", {"OpportunityId": won, "ContactId": contact, "IsPrimary": True}, modstamp=NOW)
    found = _read(server.url, meeting_outcome="Result__c")
    calls = found["activities_tasks"]
    assert [(c.type, c.duration_seconds, c.outcome, c.owner) for c in calls] == [
        (ActivityType.CALL, 130, "connected", "005000000000001"), (ActivityType.CALL, 0, "no_answer", "005000000000002")]
    booked, held = found["activities_events"]
    assert booked.type is ActivityType.MEETING_SET and held.type is ActivityType.MEETING
    assert held.outcome == "held" and held.duration_seconds == 3600 and held.lead_record_id == lead
    opportunities = {o.name: o for o in found["opportunities"]}
    assert set(opportunities) == {"導入", "別件"}  # the third has no lead of ours
    first, second = opportunities["導入"], opportunities["別件"]
    assert isinstance(first, Opportunity) and first.lead_record_id == lead and first.status is OpportunityStatus.WON
    assert first.email is None, "the converted Lead, not the contact role's e-mail"
    assert first.amount == 1_200_000 and first.closed_at == datetime(2026, 4, 9, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert second.email == "b@x.jp" and second.status is OpportunityStatus.LOST and second.lead_record_id is None
    assert not any(isinstance(r, Rejected) for records in found.values() for r in records)


def test_without_an_outcome_field_a_meeting_outcome_is_unknown(org):
    app, server = org
    lead = app.add("Lead", {"Email": "a@x.jp", "LastName": "A", "Company": "X", "Status": "Open"}, modstamp=NOW)
    app.add("Event", {"WhoId": lead, "StartDateTime": "2026-04-15T05:00:00.000+0000", "OwnerId": "005000000000001"},
            modstamp=NOW)
    booked, held = _read(server.url)["activities_events"]
    assert held.outcome is None and booked.occurred_at == NOW.replace(microsecond=0)
