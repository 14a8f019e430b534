"""Contacts deleted or merged in HubSpot are reported as RemovedLead records.

A merge leaves one live contact whose `hs_merged_object_ids` lists the ids merged into it (since
HubSpot's merge change both originals, the primary too, and the result has a new id); the merged
ids are gone from lists and search. A deleted contact sits in the recycling bin
(`GET /crm/v3/objects/contacts?archived=true`, `archivedAt`) for 90 days."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from leadsync.connectors import ConnectorError, ReadContext, RemovedLead
from leadsync.connectors.testing import FakeServer, demo_project
from leadsync.core.models import Lead
from leadsync_hubspot.kpi_streams import CALL_DISPOSITIONS
from leadsync_hubspot.search import epoch_ms
from leadsync_hubspot.streams import ContactsStream
from leadsync_hubspot.testing import HubSpotFake

from .conftest import make_connector

HOUR_MS = 3_600_000


@pytest.fixture
def fake():
    app = HubSpotFake()
    with FakeServer(app) as server:
        yield app, server


@pytest.fixture
def connector(fake):
    _, server = fake
    made = make_connector(base_url=server.url, token="pat-fake-token")
    yield made
    made.close()


def _stream(connector, kind):
    return next(s for s in connector.streams() if type(s) is kind)


def _now_ms(app: HubSpotFake) -> int:
    return int(app.now() * 1000)


def _records(pages):
    return [r for page in pages for r in page.records]


@pytest.mark.parametrize("new_id", [True, False], ids=["merge-gets-a-new-id", "primary-keeps-its-id"])
def test_a_merge_yields_the_survivor_then_every_id_merged_into_it(fake, connector, new_id):
    app, server = fake
    start = _now_ms(app) - 10 * HOUR_MS
    primary = app.add("contacts", {"email": "primary@x.jp", "firstname": "一"}, modified_ms=start)
    second = app.add("contacts", {"email": "second@x.jp", "firstname": "二"}, modified_ms=start)
    survivor = app.merge_contacts(primary, second, new_id=new_id)
    assert (survivor != primary) is new_id

    signpost = datetime.now(timezone.utc) + timedelta(seconds=5)
    pages = list(_stream(connector, ContactsStream).read(
        ReadContext(cursor={"lo": start + 1}, signpost=signpost)))
    records = _records(pages)
    leads = [r for r in records if isinstance(r, Lead)]
    assert [lead.refs["crm"] for lead in leads] == [survivor] and leads[0].email == "primary@x.jp"
    removed = [r for r in records if isinstance(r, RemovedLead)]
    expected = {primary, second} - {survivor}
    assert {r.record_id for r in removed} == expected and {r.merged_into for r in removed} == {survivor}
    page = next(p for p in pages if p.records)
    assert isinstance(page.records[0], Lead) and all(isinstance(r, RemovedLead) for r in page.records[1:]), \
        "the survivor comes first, in the same page"

    # The fake is HubSpot: merged ids are gone from the list and search, a read by an old id answers the survivor.
    listed = httpx.get(f"{server.url}/crm/v3/objects/contacts", params={"limit": 100},
                       headers={"Authorization": "Bearer pat-fake-token"}).json()["results"]
    assert [r["id"] for r in listed] == [survivor]
    old = httpx.get(f"{server.url}/crm/v3/objects/contacts/{second}", headers={"Authorization": "Bearer pat-fake-token"})
    assert old.status_code == 200 and old.json()["id"] == survivor
    for gone in expected:
        assert app.records("contacts", archived=True) == [], "a merged record is not in the recycling bin"
        assert gone not in {r["id"] for r in app.records("contacts")}


def test_the_first_sync_list_reports_merges_too(fake, connector):
    app, _ = fake
    primary = app.add("contacts", {"email": "primary@x.jp"})
    second = app.add("contacts", {"email": "second@x.jp"})
    survivor = app.merge_contacts(primary, second, new_id=False)
    records = _records(_stream(connector, ContactsStream).read(
        ReadContext(cursor=None, signpost=datetime.now(timezone.utc))))
    assert [type(r).__name__ for r in records] == ["Lead", "RemovedLead"]
    assert records[1] == RemovedLead(second, merged_into=survivor)


def test_no_merge_is_reported_for_a_survivor_that_is_rejected(fake, connector):
    """Its record cannot be stored, so the merged record's activities would have nowhere to go:
    the merge is reported when the survivor is next read (after it is fixed)."""
    app, _ = fake
    primary = app.add("contacts", {"email": "primary@x.jp"})
    second = app.add("contacts", {"email": "second@x.jp"})
    app.merge_contacts(primary, second, new_id=False)
    app.state["objects"]["contacts"][primary]["properties"]["createdate"] = "not a date"  # a broken value
    records = _records(_stream(connector, ContactsStream).read(
        ReadContext(cursor=None, signpost=datetime.now(timezone.utc))))
    assert [type(r).__name__ for r in records] == ["Rejected"]


def _removed(pages):
    return [r for r in _records(pages) if isinstance(r, RemovedLead)]


def test_deleted_contacts_are_read_from_the_recycling_bin_once_past_the_lookback(fake, connector):
    app, server = fake
    kept = app.add("contacts", {"email": "kept@x.jp"})
    old = [app.add("contacts", {"email": f"old{i}@x.jp"}) for i in range(150)]
    now = _now_ms(app)
    for record_id in old:
        assert app.archive("contacts", record_id, at_ms=now - 48 * HOUR_MS)
    stream = _stream(connector, ContactsStream)

    first_signpost = datetime.now(timezone.utc)
    pages = list(stream.read(ReadContext(cursor=None, signpost=first_signpost, lookback=timedelta(minutes=5))))
    assert {r.record_id for r in _removed(pages)} == set(old), "a first read reports the whole bin"
    assert all(r.merged_into is None for r in _removed(pages))
    assert [r.refs["crm"] for r in _records(pages) if isinstance(r, Lead)] == [kept]
    # 1 list page of live contacts, then the bin: 150 archived, 100 a page (only archived ones,
    # else the live contact would be reported)
    assert len(server.requests_to(r"/crm/v3/objects/contacts")) == 3
    cursor = pages[-1].cursor
    assert cursor == {"mode": "search", "lo": epoch_ms(first_signpost), "bin_lo": epoch_ms(first_signpost)}

    # Next run: one contact deleted since; the old ones are past the look-back and not reported again.
    fresh = app.add("contacts", {"email": "fresh@x.jp"})
    assert app.archive("contacts", fresh)
    later = datetime.now(timezone.utc) + timedelta(seconds=1)
    again = list(stream.read(ReadContext(cursor=cursor, signpost=later, lookback=timedelta(minutes=5))))
    assert _removed(again) == [RemovedLead(fresh)]
    assert again[-1].cursor["bin_lo"] == epoch_ms(later)
    assert len(server.requests_to(r"/crm/v3/objects/contacts")) == 5, "the whole bin is paged: 2 requests a run"


def test_an_empty_recycling_bin_costs_one_request_a_run(fake, connector):
    app, server = fake
    start = _now_ms(app) - HOUR_MS
    app.add("contacts", {"email": "kept@x.jp"}, modified_ms=start)
    pages = list(_stream(connector, ContactsStream).read(
        ReadContext(cursor={"lo": start - 1, "bin_lo": start - 1}, signpost=datetime.now(timezone.utc))))
    assert _removed(pages) == [] and pages[-1].cursor["bin_lo"] > start
    assert len(server.requests_to(r"/crm/v3/objects/contacts")) == 1
    assert len(server.requests_to(r"/crm/v3/objects/contacts/search")) == 1


def test_a_deleted_contact_a_lagging_search_still_shows_is_removed_after_it_in_the_same_read(fake, connector):
    """Search is eventually consistent: just after a delete it may still answer the contact. The
    bin is read after the search, from the same start, so the removal always comes last."""
    app, _ = fake
    app.state["config"]["index_lag_s"] = 3600.0  # far beyond any wait
    start = _now_ms(app) - HOUR_MS
    doomed = app.add("contacts", {"email": "doomed@x.jp"}, modified_ms=start + 10)
    assert app.archive("contacts", doomed)
    records = _records(_stream(connector, ContactsStream).read(
        ReadContext(cursor={"lo": start, "bin_lo": start}, signpost=datetime.now(timezone.utc))))
    assert [type(r).__name__ for r in records] == ["Lead", "RemovedLead"]
    assert records[1] == RemovedLead(doomed)


def test_an_interrupted_bin_read_keeps_its_old_start(fake, connector):
    app, _ = fake
    for i in range(120):
        assert app.archive("contacts", app.add("contacts", {"email": f"d{i}@x.jp"}))
    pages = _stream(connector, ContactsStream).read(
        ReadContext(cursor={"lo": 5, "bin_lo": 5}, signpost=datetime.now(timezone.utc)))
    cursors = [page.cursor for page in pages]
    assert cursors[-2]["bin_lo"] == 5 and cursors[-1]["bin_lo"] > 5, "only a complete bin read moves it"


def test_a_recycling_bin_answer_without_results_fails_the_read(fake, connector):
    app, _ = fake
    app.state["config"]["archived_list_broken"] = True
    with pytest.raises(ConnectorError, match="HubSpot contact recycling bin"):
        list(_stream(connector, ContactsStream).read(
            ReadContext(cursor={"lo": 5, "bin_lo": 5}, signpost=datetime.now(timezone.utc))))


@pytest.mark.parametrize("new_id,removed", [(False, 2), (True, 3)], ids=["primary-keeps-its-id", "merge-gets-a-new-id"])
def test_end_to_end_a_merged_and_a_deleted_contact_leave_leadsync(fake, tmp_path, new_id, removed):
    app, server = fake
    project = demo_project(tmp_path, {"plugin": "hubspot", "base_url": server.url, "token": "pat-fake-token",
                                      "roles": ["leads", "activities"]}, leads=20, activities=100)
    day = int((project.anchor - timedelta(days=1)).timestamp() * 1000)
    primary = app.add("contacts", {"email": "primary@example.jp", "firstname": "主"}, modified_ms=day)
    second = app.add("contacts", {"email": "second@example.jp", "firstname": "副"}, modified_ms=day)
    gone = app.add("contacts", {"email": "gone@example.jp", "firstname": "削"}, modified_ms=day)
    connected = next(g for g, o in CALL_DISPOSITIONS.items() if o == "connected")
    call = app.add("calls", {"hs_timestamp": str(day), "hs_call_duration": "60000", "hs_call_disposition": connected},
                   modified_ms=day, contact_id=second)

    first = project.run()
    assert (first["exit_status"], first["dead_lettered"]) == (0, 0), first
    db = sqlite3.connect(project.folder / "state" / "state.db")
    keys = {k for (k,) in db.execute("SELECT key FROM leads")}
    assert {"primary@example.jp", "second@example.jp", "gone@example.jp"} <= keys
    assert db.execute("SELECT COUNT(*) FROM scores WHERE lead_key = 'gone@example.jp'").fetchone() == (1,)

    survivor = app.merge_contacts(primary, second, new_id=new_id)
    assert app.archive("contacts", gone)
    second_run = project.run()
    assert second_run["exit_status"] == 0, second_run
    assert second_run["leads_removed"] == removed, second_run
    assert db.execute("SELECT COUNT(*) FROM leads WHERE key = 'second@example.jp'").fetchone() == (0,)
    assert db.execute("SELECT source_id, lead_key FROM activities WHERE connection = 'crm'").fetchall() == [
        (f"calls:{call}", "primary@example.jp")]
    assert db.execute("SELECT COUNT(*) FROM leads WHERE key = 'gone@example.jp'").fetchone() == (0,)
    assert db.execute("SELECT COUNT(*) FROM scores WHERE lead_key = 'gone@example.jp'").fetchone() == (0,)
    assert db.execute("SELECT record_id FROM lead_refs WHERE connection = 'crm' AND lead_key = 'primary@example.jp'"
                      ).fetchall() == [(survivor,)]

    third = project.run()  # the look-back re-reads both: nothing more to remove, nothing comes back
    assert (third["exit_status"], third["leads_removed"]) == (0, 0), third
    assert db.execute("SELECT COUNT(*) FROM leads WHERE key IN ('second@example.jp', 'gone@example.jp')"
                      ).fetchone() == (0,)
