"""Exactly-once tasks against the fake HubSpot, whose search lags writes far beyond any wait.

Look-before-create, adoption and reconciliation read the primary store only, so each test sets the
search lag to 30 s and never waits for it.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from leadsync.connectors import TaskCheck, TaskRequest
from leadsync_hubspot.testing import HubSpotFake
from leadsync.connectors.testing import FakeServer
from leadsync_hubspot import HubSpotConnector, HubSpotSettings

TOKEN = "pat-fake-token"
DUE = datetime.now(timezone.utc) + timedelta(hours=9)
CREATE = r"/crm/v3/objects/tasks/batch/create"


@pytest.fixture
def fake():
    app = HubSpotFake()
    app.state["config"]["index_lag_s"] = 30.0
    app.define_property("tasks", "leadsync_key")
    with FakeServer(app) as server:
        yield app, server


def hub(url: str, **keys) -> HubSpotConnector:
    settings = HubSpotSettings.model_validate({"plugin": "hubspot", "token": TOKEN, "base_url": url, **keys})
    return HubSpotConnector("crm", settings, sleep=lambda s: None)


def request(key: str, contact: str | None, email: str | None = None) -> TaskRequest:
    return TaskRequest(key=key, lead_key=email or key, email=email, record_id=contact, owner=None,
                       subject="MQL", body="why", due_at=DUE)


def search_total(server: FakeServer, key: str) -> int:
    body = {"filterGroups": [{"filters": [{"propertyName": "leadsync_key", "operator": "EQ", "value": key}]}]}
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}) as raw:
        return raw.post("/crm/v3/objects/tasks/search", json=body).json()["total"]


def live(app: HubSpotFake, key: str) -> list[dict]:
    return app.tasks_with_key().get(key, [])


def test_a_task_created_a_moment_ago_is_found_while_search_lags_30_s(fake):
    app, server = fake
    contact = app.add("contacts", {"email": "a@x.jp"})
    connector = hub(server.url)
    [first] = connector.create_tasks([request("k1", contact)])
    assert search_total(server, "k1") == 0, "search does not show the new task yet"
    [again] = connector.create_tasks([request("k1", contact)])
    assert first.ok and again.ok and again.external_id == first.external_id
    assert len(live(app, "k1")) == 1
    assert len(server.requests_to(CREATE)) == 1
    assert len(server.requests_to(r"/crm/v3/objects/tasks/search")) == 1, "only the test's own search: no decision reads it"
    connector.close()


def test_an_open_task_under_another_key_is_adopted_not_duplicated(fake):
    app, server = fake
    contact = app.add("contacts", {"email": "a@x.jp"})
    older = app.add("tasks", {"leadsync_key": "lost-key", "hs_task_status": "NOT_STARTED", "hs_timestamp": "1"},
                    contact_id=contact, indexed=False)
    connector = hub(server.url)
    [result] = connector.create_tasks([request("new-key", contact)])
    assert result.ok and result.external_id == older and result.adopted_key == "lost-key"
    assert not server.requests_to(CREATE)
    assert len(app.records("tasks")) == 1
    connector.close()


def test_a_completed_task_or_a_task_of_another_contact_is_not_adopted(fake):
    app, server = fake
    contact = app.add("contacts", {"email": "a@x.jp"})
    other = app.add("contacts", {"email": "b@x.jp"})
    app.add("tasks", {"leadsync_key": "done", "hs_task_status": "COMPLETED", "hs_timestamp": "1"}, contact_id=contact)
    app.add("tasks", {"leadsync_key": "elsewhere", "hs_task_status": "NOT_STARTED", "hs_timestamp": "1"}, contact_id=other)
    app.add("tasks", {"hs_task_subject": "a salesperson's own task", "hs_timestamp": "1"}, contact_id=contact)
    connector = hub(server.url)
    [result] = connector.create_tasks([request("fresh", contact)])
    assert result.ok and result.adopted_key is None
    assert len(live(app, "fresh")) == 1 and len(server.requests_to(CREATE)) == 1
    connector.close()


def test_reconcile_archives_the_younger_duplicates_and_keeps_the_oldest(fake):
    app, server = fake
    app.state["config"]["associations_page_size"] = 2  # the contact's tasks span several pages
    contact = app.add("contacts", {"email": "a@x.jp"})
    by_email = app.add("contacts", {"email": "mail@x.jp"})
    base = int(time.time() * 1000) - 60_000
    ids = [app.add("tasks", {"leadsync_key": "dup", "hs_task_status": "NOT_STARTED", "hs_timestamp": "1"},
                   contact_id=contact, created_ms=base + offset, indexed=False) for offset in (30, 10, 20)]
    app.add("tasks", {"leadsync_key": "single", "hs_timestamp": "1"}, contact_id=contact)
    mail_ids = [app.add("tasks", {"leadsync_key": "m", "hs_timestamp": "1"}, contact_id=by_email, created_ms=base + o)
                for o in (1, 2)]
    connector = hub(server.url)
    removed = connector.reconcile_tasks([
        TaskCheck(key="dup", lead_key="a", email=None, record_id=contact, external_id=ids[0]),
        TaskCheck(key="single", lead_key="a", email=None, record_id=contact),
        TaskCheck(key="m", lead_key="mail@x.jp", email="Mail@X.jp", record_id=None),
    ])
    assert sorted((r.key, r.external_id, r.kept) for r in removed) == sorted(
        [("dup", ids[0], ids[1]), ("dup", ids[2], ids[1]), ("m", mail_ids[1], mail_ids[0])])
    assert [t["id"] for t in live(app, "dup")] == [ids[1]]
    assert len(live(app, "single")) == 1 and [t["id"] for t in live(app, "m")] == [mail_ids[0]]
    assert len(app.tasks_with_key(archived=True)["dup"]) == 2
    assert connector.reconcile_tasks([TaskCheck(key="dup", lead_key="a", email=None, record_id=contact)]) == []
    connector.close()


def test_a_create_answered_with_truncated_json_leaves_no_duplicate(fake):
    app, server = fake
    contact = app.add("contacts", {"email": "a@x.jp"})
    connector = hub(server.url)
    server.inject(CREATE, "truncated")
    [result] = connector.create_tasks([request("cut", contact)])
    assert result.ok and result.external_id == live(app, "cut")[0]["id"]
    [again] = connector.create_tasks([request("cut", contact)])
    assert again.ok and len(live(app, "cut")) == 1 and len(server.requests_to(CREATE)) == 1
    connector.close()


def _gate_the_first_create(server: FakeServer) -> threading.Event:
    """Hold the next task create until the returned event is set: HubSpot applies it late."""
    original, gate, held = server._apply, threading.Event(), []

    def late(req, within_limit):
        if req.path == CREATE and not held:
            held.append(req)
            gate.wait(60)
        return original(req, within_limit)

    server._apply = late
    return gate


def _wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_a_create_applied_after_the_timeout_and_sent_again_is_reconciled_to_one(fake):
    app, server = fake
    contact = app.add("contacts", {"email": "a@x.jp"})
    connector = hub(server.url, timeout_s=0.5)
    gate = _gate_the_first_create(server)
    [first] = connector.create_tasks([request("late", contact)])
    assert not first.ok and first.retryable, "not found at once: stays pending, never dead-lettered"
    [second] = connector.create_tasks([request("late", contact)])  # the next run, before HubSpot applied the first
    assert second.ok
    gate.set()
    _wait_for(lambda: len(live(app, "late")) == 2, "the late create landed")
    [removed] = connector.reconcile_tasks([TaskCheck(key="late", lead_key="a", email=None, record_id=contact)])
    assert removed.kept == second.external_id  # the oldest stays
    assert [t["id"] for t in live(app, "late")] == [second.external_id]
    connector.close()


def test_a_create_applied_after_the_timeout_is_found_by_the_next_attempt(fake):
    app, server = fake
    contact = app.add("contacts", {"email": "a@x.jp"})
    connector = hub(server.url, timeout_s=0.5)
    gate = _gate_the_first_create(server)
    [first] = connector.create_tasks([request("late", contact)])
    assert not first.ok and first.retryable
    gate.set()
    _wait_for(lambda: len(live(app, "late")) == 1, "the late create landed")
    [second] = connector.create_tasks([request("late", contact)])
    assert second.ok and second.external_id == live(app, "late")[0]["id"]
    assert len(server.requests_to(CREATE)) == 1 and len(live(app, "late")) == 1
    connector.close()


def test_the_fake_is_as_strict_as_hubspot_on_primary_reads(fake):
    app, server = fake
    contact = app.add("contacts", {"email": "a@x.jp"})
    task = app.add("tasks", {"leadsync_key": "k", "hs_timestamp": "1"}, contact_id=contact)
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}) as raw:
        too_many = raw.post("/crm/v4/associations/contacts/tasks/batch/read", json={"inputs": [{"id": str(i)} for i in range(1001)]})
        assert too_many.status_code == 400
        assert raw.post("/crm/v3/objects/tasks/batch/read", json={"inputs": [{"id": str(i)} for i in range(101)],
                                                                     "properties": []}).status_code == 400
        assert raw.post("/crm/v3/objects/tasks/batch/archive", json={"inputs": [{"id": "1"}] * 101}).status_code == 400
        none = raw.post("/crm/v4/associations/contacts/tasks/batch/read", json={"inputs": [{"id": "999999"}]})
        assert none.status_code == 207 and none.json()["results"] == []
        linked = raw.post("/crm/v4/associations/contacts/tasks/batch/read", json={"inputs": [{"id": contact}]}).json()
        assert linked["results"][0]["to"][0]["toObjectId"] == int(task)
        assert linked["results"][0]["to"][0]["associationTypes"][0]["typeId"] == 203
        assert raw.post("/crm/v3/objects/tasks/batch/archive", json={"inputs": [{"id": task}]}).status_code == 204
        assert raw.post("/crm/v3/objects/tasks/batch/read", json={"inputs": [{"id": task}], "properties": []}).status_code == 207
        assert raw.get(f"/crm/v3/objects/tasks/{task}").status_code == 404
        assert raw.post("/crm/v4/associations/contacts/tasks/batch/read", json={"inputs": [{"id": contact}]}).json()["results"] == []
        assert raw.get("/crm/v3/objects/tasks", params={"limit": 10}).json()["results"] == []
        assert search_total(server, "k") == 0
