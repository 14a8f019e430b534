"""A lost state store must not forget a handoff sales already completed: the task's contact
association names the lead, so the cooldown and the re-MQL rule still hold for it."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta

import pytest

from leadsync.connectors import normalize_email
from leadsync.connectors.testing import FakeServer, demo_project
from leadsync_hubspot.testing import HubSpotFake, seed_demo


@pytest.fixture
def fake():
    app = HubSpotFake()
    app.state["config"]["index_lag_s"] = 30.0  # search lags every API write far beyond any run
    with FakeServer(app) as server:
        yield app, server


def _lead_of(app, task_id: str) -> str:
    """The lead key (the e-mail) of the task's associated contact, as HubSpot holds it."""
    (contact_id,) = app.state["associations"]["tasks"][task_id]
    return normalize_email(app.state["objects"]["contacts"][contact_id]["properties"]["email"])


def _disagreeing(path) -> set[str]:
    """Leads whose records (views) hold different non-empty values for some field."""
    values: dict[tuple[str, str], set[str]] = {}
    with sqlite3.connect(path) as db:
        for key, data in db.execute("SELECT lead_key, data FROM lead_refs"):
            for name, value in json.loads(data).items():
                if name not in {"key", "refs", "updated_at", "created_at"} and value not in (None, "", {}):
                    values.setdefault((key, name), set()).add(json.dumps(value, sort_keys=True))
    return {key for (key, _), seen in values.items() if len(seen) > 1}


def test_a_completed_handoff_survives_a_lost_store_as_cooldown_then_as_already_handed_off(fake, tmp_path):
    app, server = fake
    project = demo_project(tmp_path, {"plugin": "hubspot", "base_url": server.url, "token": "pat-fake-token",
                                      "roles": ["leads", "activities", "scores", "tasks"]}, owners=("501", "502"))
    seed_demo(app, project.anchor, leads=120, activities=1500)
    first = project.run("--as-of", project.anchor.isoformat())
    assert first["exit_status"] == 0 and first["tasks_created"] > 0, first
    tasks = app.tasks_with_key()
    later = project.anchor + timedelta(hours=1)
    after_cooldown = project.anchor + timedelta(days=31)
    # Behaviour points fade and windows move (their edges fall at a different hour each day, as
    # the demo is anchored at the current time): pick a lead hot both an hour and a month later,
    # whose two records (the MA file's and HubSpot's) agree. Where they disagree, the most recently
    # updated wins, and our score push stamps the contact as updated: with the store that echo is
    # no change, after a lost store the contact is newer and its values may lower the score.
    hot_later = project.preview(later, pull=True)  # as the run at `later` will score
    still_hot = project.preview(after_cooldown, pull=True)
    disagree = _disagreeing(project.folder / "state" / "state.db")
    task, lead = next((t, _lead_of(app, t["id"])) for _, (t,) in sorted(tasks.items())
                      if _lead_of(app, t["id"]) in (hot_later.keys() & still_hot.keys()) - disagree)
    done = project.anchor + timedelta(minutes=30)
    colleague = "502" if task["properties"]["hubspot_owner_id"] != "502" else "501"  # handed on, then completed
    app.user_edit("tasks", task["id"], {"hs_task_status": "COMPLETED", "hubspot_owner_id": colleague,
                                        "hs_task_completion_date": int(done.timestamp() * 1000)})
    creates = len(server.requests_to(r"/crm/v3/objects/tasks/batch/create"))
    for suffix in ("", "-wal", "-shm"):  # the state store is lost
        (project.folder / "state" / f"state.db{suffix}").unlink(missing_ok=True)

    again = project.run("--as-of", later.isoformat())
    assert again["exit_status"] == 0 and again["dead_lettered"] == 0, again
    assert len(server.requests_to(r"/crm/v3/objects/tasks/batch/create")) == creates, "no task was created"
    assert app.tasks_with_key().keys() == tasks.keys()
    with sqlite3.connect(project.folder / "state" / "state.db") as db:
        episode = db.execute("SELECT status, lead_key, owner FROM handoffs WHERE task_key = ?",
                             (task["properties"]["leadsync_key"],)).fetchone()
    assert episode == ("completed", lead, colleague), "rebuilt closed, owned by whoever had the task"
    assert project.preview(later + timedelta(minutes=1))[lead]["action"] == "cooldown"

    past = project.run("--as-of", after_cooldown.isoformat())
    assert past["exit_status"] == 0, past
    assert len(server.requests_to(r"/crm/v3/objects/tasks/batch/create")) == creates, "hot all along: no re-MQL"
    assert project.preview(after_cooldown + timedelta(minutes=1))[lead]["action"] == "already_handed_off"
