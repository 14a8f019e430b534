"""HubSpot as its documentation says it behaves: owners, set-up errors, per-second budgets, OAuth,
associations paging and 207s, a 400 tasks batch. Against the fake, which is held to the same rules."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from leadsync.connectors import ConnectorError, ReadContext, ScoreUpdate, SetupMissing, TaskRequest
from leadsync.connectors.testing import FakeServer, demo_project
from leadsync.core.models import Activity, Segment
from leadsync_hubspot import HubSpotConnector, HubSpotSettings
from leadsync_hubspot.testing import HubSpotFake, seed_demo

TOKEN = "pat-fake-token"


@pytest.fixture
def fake():
    app = HubSpotFake(requests_per_10s=190)
    with FakeServer(app) as server:
        yield app, server


def connector(url: str, **keys) -> HubSpotConnector:
    settings = HubSpotSettings.model_validate({"plugin": "hubspot", "token": TOKEN, "base_url": url, **keys})
    return HubSpotConnector("crm", settings, sleep=lambda s: None)


def raw(server: FakeServer, token: str = TOKEN) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"})


def _task(key: str, contact: str, owner: str | None) -> TaskRequest:
    return TaskRequest(key=key, lead_key=key, email=None, record_id=contact, owner=owner, subject="MQL", body="b",
                       due_at=datetime.now(timezone.utc) + timedelta(hours=9))


# -- budgets ---------------------------------------------------------------------------------------

def test_the_budget_is_learned_unless_set_by_hand():
    learned = connector("http://x").client.limiter
    assert learned.learn and learned.rates["default"].calls == 100 and learned.rates["search"].calls == 4
    fixed = connector("http://x", requests_per_10s=150, search_per_second=5).client.limiter
    assert not fixed.learn and fixed.rates["default"].calls == 150 and fixed.rates["search"].calls == 5
    assert connector("http://x", search_margin=0).client.limiter.rates["search"].calls == 5
    with pytest.raises(ValueError):
        HubSpotSettings.model_validate({"plugin": "hubspot", "token": TOKEN, "requests_per_10s": 251})


def test_private_app_answers_carry_the_per_second_headers_and_search_answers_none(fake):
    app, server = fake
    with raw(server) as client:
        listed = client.get("/crm/v3/objects/contacts", params={"limit": 1})
        searched = client.post("/crm/v3/objects/contacts/search", json={"limit": 1})
    assert listed.headers["X-HubSpot-RateLimit-Max"] == "190"
    assert listed.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert listed.headers["X-HubSpot-RateLimit-Secondly"] == "19"
    assert listed.headers["X-HubSpot-RateLimit-Secondly-Remaining"] == "18"
    assert "X-HubSpot-RateLimit-Max" not in searched.headers


def test_the_fake_refuses_the_call_over_its_per_second_budget(fake):
    app, server = fake
    with raw(server) as client:
        answers = [client.get("/crm/v3/objects/contacts", params={"limit": 1}) for _ in range(25)]
    refused = [a for a in answers if a.status_code == 429]
    assert refused and all(a.json()["policyName"] == "TEN_SECONDLY_ROLLING" for a in refused)
    assert sum(a.status_code == 200 for a in answers) <= 19 + 1  # at most one second rolled over


def test_a_learning_client_adopts_190_and_19_per_second_and_gets_no_429(fake):
    app, server = fake
    for i in range(3):
        app.add("contacts", {"email": f"c{i}@x.jp"})
    hub = connector(server.url)
    for _ in range(40):
        hub.client.get("/crm/v3/objects/contacts", params={"limit": 1})
    limiter = hub.client.limiter
    assert limiter.rates["default"].calls == 190 and limiter.secondly["default"].calls == 19
    assert [e for e in server.log if e.status == 429] == []
    hub.close()


# -- set-up missing --------------------------------------------------------------------------------

def test_a_score_push_before_setup_raises_setup_missing_naming_the_property_without_bisecting(fake):
    app, server = fake
    ids = [app.add("contacts", {"email": f"s{i}@x.jp"}) for i in range(40)]
    hub = connector(server.url, roles=["scores"])
    updates = [ScoreUpdate(key=f"k{i}", lead_key=f"k{i}", email=None, record_id=c, score=90, behavior_score=50, attribute_score=40,
                           segment=Segment.HOT, sheet_version="v1", scored_at=datetime.now(timezone.utc))
               for i, c in enumerate(ids)]
    with pytest.raises(SetupMissing) as caught:
        hub.push_scores(updates)
    assert "contacts property leadsync_score" in caught.value.missing
    assert "PROPERTY_DOESNT_EXIST" in caught.value.missing
    assert len(server.requests_to(r"/crm/v3/objects/contacts/batch/update")) == 1  # no bisection storm
    hub.close()


def test_a_property_create_needs_an_existing_group_and_groups_are_not_shadowed(fake):
    app, server = fake
    with raw(server) as client:
        groups = client.get("/crm/v3/properties/contacts/groups")
        assert groups.status_code == 200 and groups.json()["results"][0]["name"] == "contactinformation"
        body = {"name": "x_score", "label": "x", "type": "number", "fieldType": "number"}
        assert client.post("/crm/v3/properties/contacts", json=body).status_code == 400  # groupName required
        answer = client.post("/crm/v3/properties/contacts", json={**body, "groupName": "nope"})
        assert answer.status_code == 400 and answer.json()["errors"][0]["code"] == "PROPERTY_GROUP_DOESNT_EXIST"
        assert client.post("/crm/v3/properties/contacts", json={**body, "groupName": "contactinformation"}).status_code == 201


# -- tasks: owner ids, bisection, the vendor's detail ---------------------------------------------------

def test_a_400_tasks_batch_is_bisected_and_the_bad_owner_keeps_hubspots_detail(fake):
    app, server = fake
    app.define_property("tasks", "leadsync_key")
    owner = app.add_owner("sato@example.jp", "Taro", "Sato")
    user_id = str(app.state["owners"][owner]["userId"])
    contacts = [app.add("contacts", {"email": f"t{i}@x.jp"}) for i in range(8)]
    hub = connector(server.url)
    tasks = [_task(f"k{i}", c, owner) for i, c in enumerate(contacts)]
    tasks[5] = _task("k5", contacts[5], user_id)  # a userId is not an owner id: HubSpot refuses the batch
    results = hub.create_tasks(tasks)
    assert [r.ok for r in results] == [True] * 5 + [False] + [True] * 2
    reason = results[5].error
    assert "INVALID_OWNER_ID" in reason and "hubspot_owner_id" in reason and "correlationId:" in reason
    assert sorted(app.tasks_with_key()) == sorted(f"k{i}" for i in range(8) if i != 5)
    assert all(t[0]["properties"]["hubspot_owner_id"] == owner for t in app.tasks_with_key().values())
    assert len(server.requests_to(r"/crm/v3/objects/tasks/batch/create")) <= 1 + 2 * 3  # k * log2(n) extra
    hub.close()


def test_a_task_create_before_setup_raises_setup_missing(fake):
    app, server = fake
    contact = app.add("contacts", {"email": "u@x.jp"})
    hub = connector(server.url)
    with pytest.raises(SetupMissing, match="tasks property leadsync_key"):
        hub.create_tasks([_task("k", contact, None), _task("k2", contact, None)])
    assert len(server.requests_to(r"/crm/v3/objects/tasks/batch/create")) == 1
    hub.close()


# -- owners ------------------------------------------------------------------------------------------

def test_owners_resolve_by_email_or_owner_id_never_user_id(fake):
    app, server = fake
    sato = app.add_owner("Sato@Example.jp", "Taro", "Sato")
    gone = app.add_owner("gone@example.jp", "Old", "Rep", archived=True)
    for i in range(3):
        app.add_owner(f"other{i}@example.jp")
    user_id = str(app.state["owners"][sato]["userId"])
    hub = connector(server.url)
    found = hub.resolve_owners(["sato@example.jp", sato, "gone@example.jp", gone, user_id, "nobody@example.jp", "sato"])
    assert found["sato@example.jp"].id == sato and found["sato@example.jp"].usable
    assert found["sato@example.jp"].name == "Taro Sato"
    assert found[sato].id == sato and found[sato].usable
    assert found["gone@example.jp"].id == gone and not found["gone@example.jp"].active
    assert not found[gone].usable and "archived" in found[gone].problem
    assert found[user_id].id is None and "userId" in found[user_id].problem and sato in found[user_id].problem
    assert found["nobody@example.jp"].id is None
    assert found["sato"].id is None and "e-mail or owner id" in found["sato"].problem
    hub.close()


def test_the_owners_list_pages(fake):
    app, server = fake
    for i in range(505):
        app.add_owner(f"r{i}@example.jp")
    with raw(server) as client:
        first = client.get("/crm/v3/owners", params={"limit": 500}).json()
        second = client.get("/crm/v3/owners", params={"limit": 500, "after": first["paging"]["next"]["after"]}).json()
    assert len(first["results"]) == 500 and len(second["results"]) == 5 and "paging" not in second


# -- associations --------------------------------------------------------------------------------

def test_a_call_with_several_contacts_credits_each_across_association_pages(fake):
    app, server = fake
    app.state["config"]["associations_page_size"] = 2  # three contacts: two pages for this input
    contacts = [app.add("contacts", {"email": f"a{i}@x.jp"}) for i in range(3)]
    call = app.add("calls", {"hs_timestamp": "1743000000000"}, modified_ms=1_743_000_000_000)
    app.state["associations"]["calls"][call] = list(contacts)
    lonely = app.add("calls", {"hs_timestamp": "1743000000000"}, modified_ms=1_743_000_000_000)
    hub = connector(server.url, roles=["activities"], activity_objects=["calls"])
    hub.client.limiter = None
    stream = next(s for s in hub.streams() if s.name == "activities_calls")
    signpost = datetime.fromtimestamp(1_743_000_100, tz=timezone.utc)
    pages = list(stream.read(ReadContext(cursor={"mode": "search", "lo": 1_742_000_000_000}, signpost=signpost,
                                         lookback=timedelta(0))))
    activities = [r for p in pages for r in p.records if isinstance(r, Activity)]
    assert sorted(a.lead_record_id for a in activities) == sorted(contacts)
    assert len({a.source_id for a in activities}) == 3 and f"calls:{call}" in {a.source_id for a in activities}
    assert all(lonely not in a.source_id for a in activities)  # no contact: no lead's activity
    hub.close()


def test_a_207_association_error_other_than_none_found_fails_the_read():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(207, json={"status": "COMPLETE", "results": [], "numErrors": 1, "errors": [
            {"status": "error", "category": "RATE_LIMITS", "message": "try again", "context": {"fromObjectId": ["7"]}}]})

    from leadsync_hubspot.primary import associated_ids

    hub = HubSpotConnector("crm", HubSpotSettings.model_validate({"plugin": "hubspot", "token": TOKEN}),
                           transport=httpx.MockTransport(handler), sleep=lambda s: None)
    with pytest.raises(ConnectorError, match="7"):
        associated_ids(hub.client, "calls", "contacts", ["7"])
    hub.close()


# -- OAuth ---------------------------------------------------------------------------------------

def test_oauth_uses_the_2026_03_token_endpoint(fake):
    app, server = fake
    app.add("contacts", {"email": "o@x.jp"})
    settings = HubSpotSettings.model_validate({"plugin": "hubspot", "base_url": server.url, "client_id": "cid",
                                               "client_secret": "csecret", "refresh_token": "rtok"})
    hub = HubSpotConnector("crm", settings, sleep=lambda s: None)
    assert hub.check().items[0] == ("credentials", True, "contacts readable")
    assert app.state["token_calls"] == ["/oauth/2026-03/token"]
    hub.close()


# -- the CLI, end to end ------------------------------------------------------------------------------

def test_a_run_before_setup_stops_at_the_first_write_then_setup_and_check_make_it_work(fake, tmp_path):
    app, server = fake
    crm = {"plugin": "hubspot", "base_url": server.url, "token": TOKEN, "roles": ["leads", "activities", "scores", "tasks"]}
    project = demo_project(tmp_path, crm, owners=("rep501@example.com", "502", "nobody@example.com"), leads=60, activities=600)
    seed_demo(app, project.anchor, leads=60, activities=600, with_properties=False)

    before = project.run()
    assert before["exit_status"] == 4 and before["dead_lettered"] == 0
    failure = before["failures"]["crm"]
    assert "tasks property leadsync_key" in failure and "leadsync connections setup crm" in failure
    writes = server.requests_to(r"/crm/v3/objects/(contacts/batch/update|tasks/batch/create)")
    assert len(writes) == 1  # stopped at the first write: no bisection, no score batches after it

    setup = project.invoke("connections", "setup", "crm")
    assert setup.exit_code == 0, setup.output
    assert "created contacts property leadsync_score" in setup.output
    check = project.invoke("connections", "check", "crm", "--json")
    assert check.exit_code != 0  # one configured owner does not resolve
    document = check.output[: check.output.rindex("]") + 1]
    lines = {item["what"]: item for item in json.loads(document)[0]["checks"]}
    assert lines["contacts property leadsync_score"]["ok"] and lines["tasks property leadsync_key"]["ok"]
    assert lines["owner rep501@example.com"]["ok"] and lines["owner 502"]["ok"]
    assert not lines["owner nobody@example.com"]["ok"]

    after = project.run()
    assert after["exit_status"] == 0, after
    assert after["scores_pushed"] == 60 and after["tasks_created"] == before["tasks_planned"] > 0  # kept in the outbox
    owners = {t[0]["properties"]["hubspot_owner_id"] for t in app.tasks_with_key().values()}
    assert owners <= {"501", "502"}  # e-mails became owner ids; the unknown rep got none
    db = sqlite3.connect(tmp_path / "state" / "state.db")
    assert db.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0] == 0
    db.close()


def test_a_reason_keeps_hubspots_detail_but_no_credential_it_echoes():
    from leadsync_hubspot.errors import error_text

    reason = error_text({"status": "error", "category": "VALIDATION_ERROR", "correlationId": "c-1",
                         "message": 'Property values were not valid: [{"isValid":false,"message":"x",'
                                    '"error":"INVALID_OWNER_ID","name":"hubspot_owner_id"}]',
                         "context": {"propertyName": ["hubspot_owner_id"], "Authorization": ["Bearer pat-1"],
                                     "password": ["hunter2"], "objectWriteTraceId": ["k"]}})
    assert "hubspot_owner_id INVALID_OWNER_ID" in reason and "correlationId: c-1" in reason
    assert '"propertyName": "hubspot_owner_id"' in reason
    assert "pat-1" not in reason and "hunter2" not in reason
