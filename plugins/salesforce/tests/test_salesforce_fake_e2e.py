"""End to end against the fake Salesforce: demo data in, `leadsync sync run`, scores and tasks land once."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from leadsync.connectors import ReadContext, TaskRequest
from leadsync_salesforce.testing import SalesforceFake, seed_demo
from leadsync.connectors.testing import FakeServer, demo_project
from leadsync_salesforce import SalesforceConnector, SalesforceSettings



@pytest.fixture
def fake():
    app = SalesforceFake()
    with FakeServer(app) as server:
        app.url = server.url
        yield app, server


def connector(url: str, **keys) -> SalesforceConnector:
    values = {"plugin": "salesforce", "client_id": "sf-cid", "refresh_token": "sf-rtok", "login_url": url, **keys}
    return SalesforceConnector("crm", SalesforceSettings.model_validate(values), timezone="Asia/Tokyo", sleep=lambda s: None)


def test_fake_answers_like_salesforce(fake):
    app, server = fake
    with httpx.Client(base_url=server.url) as raw:
        assert raw.get("/services/data/v62.0/query", params={"q": "SELECT Id FROM Lead"}).json()[0]["errorCode"] == "INVALID_SESSION_ID"
        token = raw.post("/services/oauth2/token", data={"grant_type": "refresh_token", "client_id": "sf-cid",
                                                         "refresh_token": "sf-rtok"}).json()
        assert token["instance_url"] == server.url
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        # an unencoded '+' turns into a space: MALFORMED_QUERY, as in Salesforce
        bad = raw.get("/services/data/v62.0/query?q=SELECT+Id+FROM+Lead+WHERE+SystemModstamp+>+2025-01-01T00:00:00+09:00", headers=headers)
        assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "MALFORMED_QUERY"
        assert "api-usage=" in bad.headers["sforce-limit-info"]


def test_same_timestamp_burst_pages_by_batch_size_and_reads_everyone(fake):
    app, server = fake
    stamp = datetime(2025, 4, 1, 3, 0, tzinfo=timezone.utc)
    for i in range(450):
        app.add("Lead", {"Email": f"u{i}@x.jp", "LastName": "x", "Company": "c"}, modstamp=stamp)
    sf = connector(server.url, page_size=200)
    signpost = stamp + timedelta(minutes=1)
    pages = list(sf.streams()[0].read(ReadContext(cursor={"ts": "2025-04-01T03:00:00.000+0000", "id": ""}, signpost=signpost,
                                                  lookback=timedelta(0))))
    assert [len(p.records) for p in pages] == [200, 200, 50]
    assert len(server.requests_to(r"/services/data/v62.0/query/01g\w+-\d+")) == 2
    assert len({r.key for p in pages for r in p.records}) == 450
    sf.close()


def test_task_upsert_creates_once_and_resend_updates(fake):
    app, server = fake
    app.define_leadsync_fields()
    lead_id = app.add("Lead", {"Email": "a@x.jp", "LastName": "a", "Company": "c"})
    sf = connector(server.url)
    due = datetime(2025, 4, 1, 16, 0, tzinfo=timezone.utc)
    tasks = [TaskRequest(key="k1", lead_key="a@x.jp", email="a@x.jp", record_id=lead_id, owner=None, subject="MQL", body="b", due_at=due),
             TaskRequest(key="k2", lead_key="n@x.jp", email="n@x.jp", record_id=None, owner=None, subject="MQL", body="b", due_at=due),
             TaskRequest(key="k3", lead_key="z", email=None, record_id="00Q999999999999999", owner=None, subject="MQL", body="b", due_at=due)]
    first = sf.create_tasks(tasks)
    app.expire_sessions()  # the resend meets INVALID_SESSION_ID and re-authenticates
    again = sf.create_tasks(tasks)
    assert [r.ok for r in first] == [True, True, False] and "INVALID_CROSS_REFERENCE_KEY" in first[2].error
    assert [r.external_id for r in first[:2]] == [r.external_id for r in again[:2]]
    keyed = [t for t in app.records("Task") if t.get("Leadsync_Key__c")]
    assert sorted(t["Leadsync_Key__c"] for t in keyed) == ["k1", "k2"]
    assert keyed[0]["ActivityDate"] == "2025-04-02"
    assert len([l for l in app.records("Lead") if l["Email"] == "n@x.jp"]) == 1
    sf.close()





def test_sync_run_pushes_scores_and_tasks_and_a_rerun_adds_nothing(fake, tmp_path):
    app, server = fake
    crm = {"plugin": "salesforce", "login_url": server.url, "client_id": "sf-cid", "refresh_token": "sf-rtok",
           "page_size": 200, "roles": ["leads", "activities", "scores", "tasks"]}
    owners = (app.add_user("sato@acme.example", email="sato@example.jp"),
              app.add_user("suzuki@acme.example", email="suzuki@example.jp"))
    project = demo_project(tmp_path, crm, owners=("sato@example.jp", "suzuki@example.jp"))  # reps by e-mail
    seed_demo(app, project.anchor, leads=300, activities=5000)
    run = project.run

    first = run()
    assert first["exit_status"] == 0, first
    scored = [r for r in app.records("Lead") if r.get("Leadsync_Score__c") is not None]
    assert len(scored) >= 290 and {r["Leadsync_Segment__c"] for r in scored} <= {"hot", "warm", "cold"}
    tasks = [t for t in app.records("Task") if t.get("Leadsync_Key__c")]
    assert tasks and len({t["Leadsync_Key__c"] for t in tasks}) == len(tasks)
    assert all(t["Status"] == "Not Started" and t["Priority"] == "High" and t["WhoId"].startswith("00Q") for t in tasks)
    assert {t["OwnerId"] for t in tasks} == set(owners)  # every task carries a User id, never the e-mail
    upserts = len(server.requests_to(r"/services/data/v62.0/composite/sobjects/Task/Leadsync_Key__c"))
    updates = len(server.requests_to(r"/services/data/v62.0/composite/sobjects"))
    second = run()
    assert second["exit_status"] == 0, second
    assert len([t for t in app.records("Task") if t.get("Leadsync_Key__c")]) == len(tasks)
    assert len(server.requests_to(r"/services/data/v62.0/composite/sobjects/Task/Leadsync_Key__c")) == upserts
    assert len(server.requests_to(r"/services/data/v62.0/composite/sobjects")) == updates
