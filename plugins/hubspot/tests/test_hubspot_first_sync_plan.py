"""A first sync reads each engagement object through the list API or search, whichever finishes sooner."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from leadsync.connectors import ReadContext
from leadsync.connectors.testing import FakeServer
from leadsync.core.models import Activity
from leadsync_hubspot import HubSpotConnector, HubSpotSettings
from leadsync_hubspot.firstsync import choose_listed
from leadsync_hubspot.testing import HubSpotFake

STAMP = 1_743_000_000_000
SIGNPOST = datetime.fromtimestamp(STAMP / 1000 + 3600, tz=timezone.utc)


@pytest.fixture
def fake():
    app = HubSpotFake()
    app.rate_limits = {**app.rate_limits, "search": (1000, 1.0), "default": (10_000, 10.0)}  # budgets tested elsewhere
    app.per_second = 1_000
    with FakeServer(app) as server:
        yield app, server


def connector(url: str, **keys) -> HubSpotConnector:
    settings = HubSpotSettings.model_validate({"plugin": "hubspot", "token": "pat-fake-token", "base_url": url, **keys})
    hub = HubSpotConnector("crm", settings, sleep=lambda s: None)
    hub.client.limiter = None
    return hub


def seed(app: HubSpotFake, calls: int, *, orphans: int = 0) -> list[str]:
    contacts = [app.add("contacts", {"email": f"c{i}@x.jp"}) for i in range(7)]
    for i in range(calls):
        app.add("calls", {"hs_timestamp": str(STAMP + i), "hs_call_status": "COMPLETED"}, modified_ms=STAMP + i,
                contact_id=contacts[i % len(contacts)])
    for i in range(orphans):  # a call logged against no contact is no lead's activity
        app.add("calls", {"hs_timestamp": str(STAMP)}, modified_ms=STAMP)
    return contacts


def stream(hub: HubSpotConnector, name: str = "activities_calls"):
    return next(s for s in hub.streams() if s.name == name)


def test_the_plan_lists_what_the_search_budget_would_hold_up():
    # The benchmark's first sync: 100,000 contacts, 498,000 calls, 2,000 meetings, Pro budget.
    totals = {"calls": 498_000, "meetings": 2_000, "deals": 0}
    assert "calls" in choose_listed(totals, contacts=100_000, per_s=19, search_per_s=5)
    # Few engagements and many contacts: the ten-secondly bucket is the busy one, search stays.
    assert choose_listed({"calls": 2_000, "meetings": 100}, contacts=100_000, per_s=19, search_per_s=5) == set()
    # Free/Starter (10 a second): listing 100 a page is no faster than searching 200 at 5/s: search.
    assert choose_listed({"calls": 2_300}, contacts=1, per_s=10, search_per_s=5) == set()
    # Both ways would be balanced: only part of the objects go to the list.
    split = choose_listed({"calls": 300_000, "meetings": 200_000}, contacts=0, per_s=19, search_per_s=5)
    assert split in ({"calls"}, {"meetings"})


def test_a_first_sync_lists_calls_with_their_contacts_inline(fake):
    app, server = fake
    contacts = seed(app, 2_300, orphans=3)
    hub = connector(server.url, requests_per_10s=190)
    pages = list(stream(hub).read(ReadContext(cursor=None, signpost=SIGNPOST, lookback=timedelta(0))))
    records = [r for p in pages for r in p.records]
    assert len(records) == 2_300 and all(isinstance(r, Activity) for r in records)
    assert {r.lead_record_id for r in records} == set(contacts)
    assert len({r.source_id for r in records}) == 2_300
    assert len(server.requests_to(r"/crm/v3/objects/calls")) == 24  # 2,303 calls, 100 a page
    assert not server.requests_to(r"/crm/v4/associations/calls/contacts/batch/read")  # the ids came inline
    # One search per object to count (calls, meetings, deals) and one for the contacts; no search reads.
    assert len(server.requests_to(r"/crm/v3/objects/calls/search")) == 1
    assert pages[-1].cursor == {"lo": int(SIGNPOST.timestamp() * 1000)}
    assert all(p.cursor["mode"] == "list" for p in pages[:-1])
    # The next run searches from when the list began: nothing changed since, one empty search.
    later = ReadContext(cursor=pages[-1].cursor, signpost=SIGNPOST + timedelta(minutes=5), lookback=timedelta(0))
    assert [r for p in stream(hub).read(later) for r in p.records] == []
    assert len(server.requests_to(r"/crm/v3/objects/calls/search")) == 2
    assert len(server.requests_to(r"/crm/v3/objects/calls")) == 24
    hub.close()


def test_a_list_interrupted_mid_way_resumes_at_its_page_and_reads_no_record_twice(fake):
    app, server = fake
    seed(app, 1_050)
    hub = connector(server.url, requests_per_10s=190)
    first = stream(hub).read(ReadContext(cursor=None, signpost=SIGNPOST, lookback=timedelta(0)))
    read = [next(first) for _ in range(4)]
    seen = [r.source_id for page in read for r in page.records]
    cursor = read[-1].cursor  # the 4th page's: what the engine committed with it
    first.close()
    assert len(seen) == 400 and cursor["mode"] == "list"
    requests_before = len(server.requests_to(r"/crm/v3/objects/calls"))
    resumed = connector(server.url, requests_per_10s=190)
    rest = list(stream(resumed).read(
        ReadContext(cursor=cursor, signpost=SIGNPOST + timedelta(minutes=9), lookback=timedelta(0))))
    resumed.close()
    again = [r.source_id for p in rest for r in p.records]
    assert len(again) == 650 and not set(again) & set(seen)
    assert len(server.requests_to(r"/crm/v3/objects/calls")) - requests_before == 7  # pages 5-11, no restart
    assert rest[-1].cursor == {"lo": cursor["started"]}  # the list's start, not the resumed run's
    hub.close()


def test_a_small_portal_on_the_free_budget_keeps_searching(fake):
    app, server = fake
    seed(app, 450)
    hub = connector(server.url, search_margin=0)  # 100 requests / 10 s; search at its full 5/s ties with the list
    records = [r for p in stream(hub).read(ReadContext(cursor=None, signpost=SIGNPOST, lookback=timedelta(0)))
               for r in p.records]
    assert len(records) == 450
    assert not server.requests_to(r"/crm/v3/objects/calls")
    assert len(server.requests_to(r"/crm/v4/associations/calls/contacts/batch/read")) == 1
    hub.close()


def test_the_fake_answers_associations_only_when_asked_like_hubspot(fake):
    app, server = fake
    contact = app.add("contacts", {"email": "a@x.jp"})
    app.add("calls", {"hs_timestamp": str(STAMP)}, modified_ms=STAMP, contact_id=contact)
    app.add("calls", {"hs_timestamp": str(STAMP)}, modified_ms=STAMP)
    with httpx.Client(base_url=server.url, headers={"Authorization": "Bearer pat-fake-token"}) as raw:
        plain = raw.get("/crm/v3/objects/calls").json()["results"]
        asked = raw.get("/crm/v3/objects/calls", params={"associations": "contacts,nosuchthing"}).json()["results"]
    assert all("associations" not in r for r in plain)
    assert asked[0]["associations"] == {"contacts": {"results": [{"id": contact, "type": "call_to_contact"}]}}
    assert "associations" not in asked[1]  # no associated contact: no key
