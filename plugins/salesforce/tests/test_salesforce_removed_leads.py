"""Leads deleted or merged away in Salesforce are reported as `RemovedLead`: read through
`queryAll` (normal `query` leaves them out), deleted ones as such, merged ones with the surviving
Lead (`MasterRecordId`) read first in the same page. The fake hides them from `query` as the org does."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from leadsync.connectors import ReadContext, RemovedLead
from leadsync.connectors.testing import FakeServer, demo_project
from leadsync.core.models import Lead
from leadsync_salesforce import SalesforceConnector, SalesforceSettings
from leadsync_salesforce.testing import SalesforceFake, sf_time

QUERY_ALL = r"/services/data/v\d+\.\d/queryAll/?$"
QUERY = r"/services/data/v\d+\.\d/query/?$"


@pytest.fixture
def fake():
    app = SalesforceFake()
    with FakeServer(app) as server:
        app.url = server.url
        yield app, server


def connector(url: str, **keys) -> SalesforceConnector:
    values = {"plugin": "salesforce", "client_id": "sf-cid", "refresh_token": "sf-rtok", "login_url": url,
              "roles": ["leads", "activities"], **keys}
    return SalesforceConnector("crm", SalesforceSettings.model_validate(values), timezone="Asia/Tokyo", sleep=lambda s: None)


def _lead(app: SalesforceFake, email: str, when: datetime, **fields) -> str:
    return app.add("Lead", {"Email": email, "LastName": "山田", "Company": "株式会社テスト", **fields}, modstamp=when)


def _stream(sf: SalesforceConnector, name: str):
    return next(s for s in sf.streams() if s.name == name)


def _read(stream, cursor=None, *, lookback=timedelta(0), signpost=None):
    ctx = ReadContext(cursor=cursor, signpost=signpost or datetime.now(timezone.utc) + timedelta(seconds=5), lookback=lookback)
    return list(stream.read(ctx))


def test_deleted_and_merged_leads_are_reported_and_the_survivor_comes_first(fake):
    app, server = fake
    day = datetime.now(timezone.utc) - timedelta(days=1)
    kept = _lead(app, "kept@x.jp", day)
    second = _lead(app, "second@x.jp", day)
    gone = _lead(app, "gone@x.jp", day)
    converted = _lead(app, "converted@x.jp", day)
    sf = connector(server.url)
    removed = _stream(sf, "leads_removed")
    first = _read(removed)
    assert [r for p in first for r in p.records] == [], "nothing deleted yet"
    cursor = first[-1].cursor if first else None

    app.merge("Lead", kept, [second])
    app.delete("Lead", gone)
    app.convert_lead(converted)  # converted, not deleted: still a Lead, IsDeleted stays false

    pages = _read(removed, cursor)
    records = [r for p in pages for r in p.records]
    assert [type(r) for r in records] == [Lead, RemovedLead, RemovedLead]
    assert records[0].refs == {"crm": kept} and records[0].email == "kept@x.jp"
    assert records[1:] == [RemovedLead(second, merged_into=kept), RemovedLead(gone)]
    assert pages[-1].cursor["id"] == gone and pages[-1].cursor["ts"]

    # The leads stream (normal query) no longer returns them; the converted Lead it still does.
    lead_ids = {r.refs["crm"] for p in _read(_stream(sf, "leads")) for r in p.records}
    assert lead_ids == {kept, converted}

    # From the cursor on, nothing is reported twice; one queryAll request, no survivor look-up.
    before = len(server.requests_to(QUERY_ALL)), len(server.requests_to(QUERY))
    assert [r for p in _read(removed, pages[-1].cursor) for r in p.records] == []
    assert (len(server.requests_to(QUERY_ALL)), len(server.requests_to(QUERY))) == (before[0] + 1, before[1])
    sf.close()


def test_the_look_back_reports_again_and_a_purged_record_is_not_seen(fake):
    app, server = fake
    day = datetime.now(timezone.utc) - timedelta(days=1)
    a, b = _lead(app, "a@x.jp", day), _lead(app, "b@x.jp", day)
    app.delete("Lead", a)
    app.delete("Lead", b)
    sf = connector(server.url)
    removed = _stream(sf, "leads_removed")
    pages = _read(removed)
    assert {r.record_id for p in pages for r in p.records} == {a, b}
    again = _read(removed, pages[-1].cursor, lookback=timedelta(minutes=10))
    assert {r.record_id for p in again for r in p.records} == {a, b}, "re-reported within the look-back (idempotent)"
    app.purge("Lead", a)  # emptied from the recycle bin: queryAll no longer has it
    assert {r.record_id for p in _read(removed) for r in p.records} == {b}
    sf.close()


def test_removed_leads_page_through_query_locators(fake):
    app, server = fake
    day = datetime.now(timezone.utc) - timedelta(days=1)
    ids = [_lead(app, f"u{i}@x.jp", day) for i in range(450)]
    for record_id in ids:
        app.delete("Lead", record_id)
    sf = connector(server.url, page_size=200)
    pages = _read(_stream(sf, "leads_removed"))
    assert [len(p.records) for p in pages] == [200, 200, 50]
    assert {r.record_id for p in pages for r in p.records} == set(ids)
    sf.close()


def test_a_stream_without_the_leads_role_reports_no_removals(fake):
    app, server = fake
    sf = connector(server.url, roles=["activities"])
    assert "leads_removed" not in [s.name for s in sf.streams()]
    sf.close()


def test_the_fake_hides_deleted_records_from_query_and_refuses_writes_to_them(fake):
    app, server = fake
    day = datetime.now(timezone.utc) - timedelta(days=1)
    live, gone = _lead(app, "live@x.jp", day), _lead(app, "gone@x.jp", day)
    app.delete("Lead", gone)
    with httpx.Client(base_url=server.url) as raw:
        token = raw.post("/services/oauth2/token", data={"grant_type": "refresh_token", "client_id": "sf-cid",
                                                         "refresh_token": "sf-rtok"}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        q = {"q": "SELECT Id, IsDeleted FROM Lead"}
        assert [r["Id"] for r in raw.get("/services/data/v62.0/query", params=q, headers=headers).json()["records"]] == [live]
        everything = raw.get("/services/data/v62.0/queryAll", params=q, headers=headers).json()["records"]
        assert {(r["Id"], r["IsDeleted"]) for r in everything} == {(live, False), (gone, True)}
        assert raw.get("/services/data/v28.0/queryAll", params=q, headers=headers).status_code == 404  # v29.0 and later
        update = raw.patch("/services/data/v62.0/composite/sobjects", headers=headers, json={"records": [
            {"attributes": {"type": "Lead"}, "id": gone, "Title": "x"}]}).json()
        assert update[0]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"
    app.undelete("Lead", gone)  # restored from the recycle bin: an ordinary Lead again
    assert {r["Id"] for r in app.records("Lead")} == {live, gone}


def test_a_merge_and_a_delete_in_salesforce_remove_two_leads_end_to_end(fake, tmp_path):
    app, server = fake
    project = demo_project(tmp_path, {"plugin": "salesforce", "login_url": server.url, "client_id": "sf-cid",
                                      "roles": ["leads", "activities"]}, leads=20, activities=100)
    env = {"LEADSYNC_CONNECTIONS__CRM__REFRESH_TOKEN": "sf-rtok", "LEADSYNC_LOAD_PLUGINS": "salesforce"}
    day = project.anchor - timedelta(days=1)
    survivor = _lead(app, "primary@merge.jp", day, Title="部長")
    merged = _lead(app, "second@merge.jp", day)
    deleted = _lead(app, "deleted@merge.jp", day)
    early = day - timedelta(hours=1)  # far behind the look-back: run 2 does not read this Task again
    call = app.add("Task", {"WhoId": merged, "TaskSubtype": "Call", "Subject": "Call", "Status": "Completed",
                            "CompletedDateTime": sf_time(early), "CallDurationInSeconds": 300}, modstamp=early)
    app.add("Task", {"WhoId": survivor, "TaskSubtype": "Call", "Subject": "Call", "Status": "Completed",
                     "CompletedDateTime": sf_time(day), "CallDurationInSeconds": 60}, modstamp=day)

    def run() -> dict:
        result = project.invoke("sync", "run", "--json", env=env)
        import json
        return json.loads(result.stdout)

    first = run()
    assert (first["exit_status"], first["dead_lettered"]) == (0, 0), first
    db = sqlite3.connect(project.folder / "state" / "state.db")
    keys = {"primary@merge.jp", "second@merge.jp", "deleted@merge.jp"}
    assert {r[0] for r in db.execute("SELECT key FROM leads")} >= keys
    assert {r[0] for r in db.execute("SELECT lead_key FROM scores")} >= keys
    assert db.execute("SELECT lead_key FROM activities WHERE source_id = ?", (f"Task:{call}",)).fetchall() == [
        ("second@merge.jp",)]

    app.merge("Lead", survivor, [merged])
    app.delete("Lead", deleted)
    second = run()
    assert (second["exit_status"], second["dead_lettered"]) == (0, 0), second
    assert second["leads_removed"] == 2, second
    assert second["pulled"]["crm"]["activities_tasks"] == 1, "only the later Task is read again (look-back)"
    stored = {r[0] for r in db.execute("SELECT key FROM leads")}
    assert "primary@merge.jp" in stored and not stored & {"second@merge.jp", "deleted@merge.jp"}
    assert db.execute("SELECT lead_key FROM activities WHERE source_id = ?", (f"Task:{call}",)).fetchall() == [
        ("primary@merge.jp",)]
    scored = {r[0] for r in db.execute("SELECT lead_key FROM scores")}
    assert "primary@merge.jp" in scored and not scored & {"second@merge.jp", "deleted@merge.jp"}
    assert db.execute("SELECT COUNT(*) FROM lead_refs WHERE connection = 'crm' AND record_id IN (?, ?)",
                      (merged, deleted)).fetchone() == (0,)

    third = run()  # nothing new: nothing removed again
    assert (third["exit_status"], third["leads_removed"]) == (0, 0), third
    db.close()
