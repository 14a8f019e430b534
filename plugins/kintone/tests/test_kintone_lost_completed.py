"""A lost state store must not forget a handoff sales already completed: the To-Do's lead link
(`リードID`, and its `メールアドレス`) names the lead, so the cooldown and the re-MQL rule still hold."""

from __future__ import annotations

from datetime import timedelta

from leadsync.connectors import normalize_email
from leadsync.connectors.testing import DemoProject
from leadsync_kintone.mapping import kintone_time


def _todos_of(world, lead_id: str) -> list[dict]:
    return [r for r in world.fake.records(30).values() if r.get("leadsync_key") and r.get("リードID") == lead_id]


def _episode(world, task_key: str) -> tuple | None:
    store = world.store()
    try:
        row = store.db.execute("SELECT status, lead_key, closed_at, first_touch_at, owner FROM handoffs "
                               "WHERE task_key = ?", (task_key,)).fetchone()
    finally:
        store.close()
    return tuple(row) if row else None


def test_a_completed_todo_survives_a_lost_store_as_cooldown_then_as_already_handed_off(kt_world, reliability):
    world = kt_world()
    project = DemoProject(world.folder, reliability.anchor)
    first = world.run()
    assert first["exit_status"] == 0 and first["tasks_created"] > 0, (first, reliability.truth(world.store()))
    record_id, todo = sorted((i, r) for i, r in world.fake.records(30).items() if r.get("leadsync_key"))[0]
    lead_id = todo["リードID"]
    assert lead_id, "leadsync links every To-Do to its lead record"
    lead = normalize_email(world.fake.records(10)[int(lead_id)]["メールアドレス"])
    done = reliability.anchor + timedelta(minutes=30)  # between the runs, on the scenario's clock
    # sales hands the To-Do to a colleague, who completes it
    world.fake.edit_record(30, record_id, {"担当者": [{"code": "kato"}], "ステータス": "完了", "完了日時": kintone_time(done)})
    completed = dict(world.fake.records(30)[record_id])
    todos = len(world.fake.records(30))

    world.lose_state()
    later = reliability.anchor + timedelta(hours=1)
    again = world.run(as_of=later)
    assert again["exit_status"] == 0 and again["dead_lettered"] == 0, again
    assert _todos_of(world, lead_id) == [completed], "no second To-Do for the lead whose handoff sales completed"
    assert len(world.fake.records(30)) == todos, "no new To-Do at all: the open ones were adopted"
    assert _episode(world, todo["leadsync_key"]) == ("completed", lead, done.timestamp(), done.timestamp(), "kato"), \
        "the completed episode is rebuilt, closed at the completion, owned by whoever had the To-Do"
    assert project.preview(later + timedelta(hours=1), env=world.env())[lead]["action"] == "cooldown"

    after_cooldown = reliability.anchor + timedelta(days=31)
    past = world.run(as_of=after_cooldown)
    assert past["exit_status"] == 0, past
    assert _todos_of(world, lead_id) == [completed], "still hot, never cold since: no re-MQL, no To-Do"
    assert project.preview(after_cooldown + timedelta(hours=1), env=world.env())[lead]["action"] == "already_handed_off"

