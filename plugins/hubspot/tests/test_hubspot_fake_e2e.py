"""End to end against the fake HubSpot: demo data in, `leadsync sync run`, scores and tasks land once."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from leadsync.connectors import ReadContext, TaskRequest
from leadsync_hubspot.testing import HubSpotFake, seed_demo
from leadsync.connectors.testing import FakeServer
from leadsync.connectors.testing import demo_project
from leadsync_hubspot import HubSpotConnector, HubSpotSettings



@pytest.fixture
def fake():
    app = HubSpotFake()
    with FakeServer(app) as server:
        yield app, server


def connector(url: str, **keys) -> HubSpotConnector:
    settings = HubSpotSettings.model_validate({"plugin": "hubspot", "token": "pat-fake-token", "base_url": url, **keys})
    return HubSpotConnector("crm", settings, sleep=lambda s: None)


def test_search_past_the_10k_cap_is_a_400_but_the_keyset_reader_gets_everyone(fake):
    app, server = fake
    stamp = 1_743_000_000_000
    for i in range(10_050):
        app.add("contacts", {"email": f"u{i}@x.jp"}, modified_ms=stamp)  # one bulk update, one timestamp
    with httpx.Client(base_url=server.url, headers={"Authorization": "Bearer pat-fake-token"}) as raw:
        answer = raw.post("/crm/v3/objects/contacts/search", json={"limit": 200, "after": "9900"})
        assert answer.status_code == 400 and answer.json()["category"] == "VALIDATION_ERROR"
    app.rate_limits = {**app.rate_limits, "search": (1000, 1.0)}  # the 5/s budget is tested elsewhere; keep this fast
    hub = connector(server.url, requests_per_10s=190)
    hub.client.limiter = None
    stream = hub.streams()[0]
    signpost = datetime.fromtimestamp(stamp / 1000 + 60, tz=timezone.utc)
    pages = list(stream.read(ReadContext(cursor={"mode": "search", "lo": stamp - 1000}, signpost=signpost, lookback=timedelta(0))))
    keys = {r.key for p in pages for r in p.records}
    assert len(keys) == 10_050
    assert pages[-1].cursor == {"lo": int(signpost.timestamp() * 1000), "bin_lo": int(signpost.timestamp() * 1000)}
    hub.close()


def test_tasks_are_created_once_even_when_resent(fake):
    app, server = fake
    seed_demo(app, datetime.now(timezone.utc), leads=5, activities=40)
    contact_id = next(iter(app.state["objects"]["contacts"]))
    hub = connector(server.url)
    due = datetime.now(timezone.utc) + timedelta(hours=9)
    tasks = [TaskRequest(key=f"k{i}", lead_key="x", email=None, record_id=contact_id, owner=None,
                         subject="MQL", body="why", due_at=due) for i in range(3)]
    tasks.append(TaskRequest(key="k-new", lead_key="n@x.jp", email="n@x.jp", record_id=None, owner=None,
                             subject="MQL", body="why", due_at=due))
    first = hub.create_tasks(tasks)
    again = hub.create_tasks(tasks)
    assert all(r.ok for r in first + again)
    assert [r.external_id for r in first] == [r.external_id for r in again]
    assert {k: len(v) for k, v in app.tasks_with_key().items()} == {"k0": 1, "k1": 1, "k2": 1, "k-new": 1}
    assert len(server.requests_to(r"/crm/v3/objects/tasks/batch/create")) == 1
    hub.close()


def test_a_reset_after_apply_is_confirmed_from_the_primary_store_without_waiting_for_search(fake):
    app, server = fake
    app.state["config"]["index_lag_s"] = 30.0  # far beyond any wait: nothing may rest on search
    contact_id = app.add("contacts", {"email": "a@x.jp"})
    app.define_property("tasks", "leadsync_key")
    hub = connector(server.url)
    server.inject(r"/crm/v3/objects/tasks/batch/create", "reset_after_apply")
    due = datetime.now(timezone.utc) + timedelta(hours=9)
    [result] = hub.create_tasks([TaskRequest(key="lag", lead_key="a@x.jp", email="a@x.jp", record_id=contact_id,
                                             owner=None, subject="MQL", body="b", due_at=due)])
    assert result.ok and len(app.tasks_with_key()["lag"]) == 1
    assert hub.read_after_write_lag() == 0.0
    hub.close()


def test_sync_run_pushes_scores_and_tasks_and_a_rerun_adds_nothing(fake, tmp_path):
    app, server = fake
    project = demo_project(tmp_path, {"plugin": "hubspot", "base_url": server.url, "token": "pat-fake-token",
                                      "roles": ["leads", "activities", "scores", "tasks"]}, owners=("501", "502"))
    seed_demo(app, project.anchor, leads=300, activities=5000)
    run = project.run

    first = run()
    assert first["exit_status"] == 0, first
    scored = [r for r in app.records("contacts") if r["properties"].get("leadsync_score")]
    assert len(scored) >= 290
    assert {r["properties"]["leadsync_segment"] for r in scored} <= {"hot", "warm", "cold"}
    tasks = app.tasks_with_key()
    assert tasks and all(len(v) == 1 for v in tasks.values())
    task = next(iter(tasks.values()))[0]["properties"]
    assert task["hs_task_status"] == "NOT_STARTED" and task["hs_task_priority"] == "HIGH"
    creates = len(server.requests_to(r"/crm/v3/objects/tasks/batch/create"))
    updates = len(server.requests_to(r"/crm/v3/objects/contacts/batch/update"))
    second = run()
    assert second["exit_status"] == 0, second
    assert app.tasks_with_key().keys() == tasks.keys()
    assert len(server.requests_to(r"/crm/v3/objects/tasks/batch/create")) == creates
    assert len(server.requests_to(r"/crm/v3/objects/contacts/batch/update")) == updates


def test_fake_sends_rate_limit_headers_and_daily_429(fake):
    app, server = fake
    app.state["config"]["daily_limit"] = 2
    with httpx.Client(base_url=server.url, headers={"Authorization": "Bearer pat-fake-token"}) as raw:
        first = raw.get("/crm/v3/objects/contacts")
        assert first.headers["x-hubspot-ratelimit-max"] == "100" and first.headers["x-hubspot-ratelimit-daily"] == "2"
        assert first.headers["x-hubspot-ratelimit-daily-remaining"] == "1"
        raw.get("/crm/v3/objects/contacts")
        third = raw.get("/crm/v3/objects/contacts")
        assert third.status_code == 429 and third.json()["policyName"] == "DAILY"
        assert raw.get("/crm/v3/objects/contacts", headers={"Authorization": "Bearer nope"}).json()["category"] == "INVALID_AUTHENTICATION"


def test_engagements_read_their_contacts_1000_at_a_time(fake):
    app, server = fake
    contact = app.add("contacts", {"email": "busy@x.jp"})
    stamp = 1_743_000_000_000
    for i in range(2_300):
        app.add("calls", {"hs_timestamp": str(stamp + i)}, modified_ms=stamp + i, contact_id=contact)
    app.rate_limits = {**app.rate_limits, "search": (1000, 1.0)}  # the 5/s budget is tested elsewhere
    hub = connector(server.url, search_margin=0)  # search at the full 5/s, so list and search tie
    hub.client.limiter = None
    calls = next(s for s in hub.streams() if s.name == "activities_calls")
    signpost = datetime.fromtimestamp(stamp / 1000 + 3600, tz=timezone.utc)
    pages = list(calls.read(ReadContext(cursor=None, signpost=signpost, lookback=timedelta(0))))
    assert sum(len(p.records) for p in pages) == 2_300
    assert len(server.requests_to(r"/crm/v4/associations/calls/contacts/batch/read")) == 3  # 1000 + 1000 + 300
    # 12 pages of 200, the empty end, and the first sync's count (search and list tie at 10 requests/s: search)
    assert len(server.requests_to(r"/crm/v3/objects/calls/search")) == 14
    assert not server.requests_to(r"/crm/v3/objects/calls")
    hub.close()


def test_property_groups_route_is_not_shadowed_by_the_property_route(fake):
    """`/properties/contacts/groups` is declared before `/properties/contacts/{name}` and wins."""
    app, server = fake
    with httpx.Client(base_url=server.url, headers={"Authorization": "Bearer pat-fake-token"}) as raw:
        groups = raw.get("/crm/v3/properties/contacts/groups")
        assert groups.status_code == 200
        assert [g["name"] for g in groups.json()["results"]] == ["contactinformation"]
    hub = connector(server.url)
    done = hub.setup()
    hub.close()
    assert sum("in group contactinformation" in line for line in done) == 6
    assert any("in group taskinformation" in line for line in done)
