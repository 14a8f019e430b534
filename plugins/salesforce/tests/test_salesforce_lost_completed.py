"""A lost state store must not forget a handoff sales already completed: the cooldown and the
re-MQL rule still hold for that lead (the completed Task's WhoId names it)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from leadsync.connectors import normalize_email
from leadsync.connectors.testing import DemoProject
from leadsync_salesforce.testing import sf_time


def _tasks_of(world, who: str) -> list[dict]:
    return [t for t in world.app.records("Task") if t.get("Leadsync_Key__c") and t.get("WhoId") == who]


def test_a_completed_handoff_survives_a_lost_store_as_cooldown_then_as_already_handed_off(sf_world, reliability):
    world = sf_world()
    project = DemoProject(world.folder, reliability.anchor)
    first = world.run()
    assert first["exit_status"] == 0 and first["tasks_created"] > 0, (first, reliability.dead_letters(world.store()))
    task = sorted(world.vendor_tasks().items())[0][1][0]
    who = task["WhoId"]
    lead = next(r for r in world.app.records("Lead") if r["Id"] == who)
    key = normalize_email(lead["Email"])
    done = reliability.anchor + timedelta(minutes=30)  # between the runs, on the scenario's clock
    # sales completed it a while ago (a stamp within the run's last second is read by the next run)
    stamp = sf_time(datetime.now(timezone.utc) - timedelta(minutes=1))
    colleague = world.app.add_user("kato@example.co.jp")  # sales hands the task to a colleague, who completes it
    task.update(OwnerId=colleague, Status="Completed", IsClosed=True, CompletedDateTime=sf_time(done),
                SystemModstamp=stamp)
    created = len(world.app.records("Task"))

    world.lose_state()
    later = reliability.anchor + timedelta(hours=1)
    again = world.run(as_of=later)
    assert again["exit_status"] == 0 and again["dead_lettered"] == 0, (again, reliability.dead_letters(world.store()))
    assert _tasks_of(world, who) == [task], "no new task for the lead whose handoff sales completed"
    assert len(world.app.records("Task")) == created, "no new task at all: the open ones were adopted"
    store = world.store()
    try:
        row = store.db.execute("SELECT status, lead_key, closed_at, owner FROM handoffs WHERE task_key = ?",
                               (task["Leadsync_Key__c"],)).fetchone()
    finally:
        store.close()
    assert row is not None and tuple(row) == ("completed", key, done.timestamp(), colleague), \
        "the completed episode is rebuilt, owned by whoever had the task"
    assert project.preview(later + timedelta(hours=1), env=world.env())[key]["action"] == "cooldown"

    after_cooldown = reliability.anchor + timedelta(days=31)
    past = world.run(as_of=after_cooldown)
    assert past["exit_status"] == 0, (past, reliability.dead_letters(world.store()))
    assert _tasks_of(world, who) == [task], "still hot, never cold since: no re-MQL, no task"
    assert project.preview(after_cooldown + timedelta(hours=1), env=world.env())[key]["action"] == "already_handed_off"
