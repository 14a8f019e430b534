"""Episodes over time: completion, rejection and recycle, re-MQL, cooldown, expiry, overdue notices."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from leadsync.connectors.base import TaskUpdate
from leadsync.connectors.hookspecs import hookimpl
from leadsync.core.handoff import (
    apply_handoffs,
    is_rejected_status,
    plan_handoffs,
    record_task_update,
    update_episodes,
)
from leadsync.core.sync.identity import ingest

JST = ZoneInfo("Asia/Tokyo")
MONDAY = datetime(2025, 4, 7, 10, 0, tzinfo=JST)
LEAD = "hanako@example.co.jp"


def run(world, as_of, task_updates=(), notify=True):
    changes = update_episodes(world.store, world.settings, as_of, world.host, task_updates, notify=notify)
    plans = plan_handoffs(world.store, world.settings, as_of, world.host, task_connection="crm")
    apply_handoffs(world.store, plans, as_of, run_id=None)
    return changes, {p.email: p for p in plans}


def hot_lead(world, at=MONDAY, **fields):
    world.lead(LEAD, company="テスト工業", lead_source="資料請求", **fields)
    world.score(LEAD, 88, at, world.HOT)


def test_completed_task_closes_the_episode_and_records_first_touch(world) -> None:
    hot_lead(world)
    _, plans = run(world, MONDAY)
    key = plans[LEAD].task.key
    done = MONDAY + timedelta(hours=5)
    changes, plans = run(world, MONDAY + timedelta(hours=6), [TaskUpdate(key=key, completed_at=done)])
    assert changes.completed == [key]
    [row] = world.handoffs()
    assert row["status"] == "completed" and row["first_touch_at"] == done.timestamp()
    assert plans[LEAD].action == "cooldown"  # still hot, but no second task


def test_rejection_recycles_and_keeps_the_reason_then_re_mql_after_cold(world) -> None:
    hot_lead(world, status="Open")
    run(world, MONDAY)
    world.update_lead(LEAD, status="ｕｎｑｕａｌｉｆｉｅｄ", status_reason="予算なし")  # full-width, any case
    changes, plans = run(world, MONDAY + timedelta(days=2))
    [row] = world.handoffs()
    assert changes.rejected == [row["task_key"]]
    assert row["status"] == "rejected" and row["close_reason"] == "予算なし"
    assert plans[LEAD].action == "cooldown"

    # after the cooldown, still hot and never cooled down: not a new MQL
    after = MONDAY + timedelta(days=40)
    _, plans = run(world, after)
    assert plans[LEAD].action == "recycled" and len(world.handoffs()) == 1

    # falls to cold, then turns hot again: a new MQL, although the CRM status still says Unqualified
    world.score(LEAD, 30, after + timedelta(days=1))
    world.score(LEAD, 92, after + timedelta(days=3), world.HOT)
    _, plans = run(world, after + timedelta(days=3))
    assert plans[LEAD].action == "create_task"
    rows = world.handoffs()
    assert [r["status"] for r in rows] == ["rejected", "open"] and rows[1]["opened_status"] == "ｕｎｑｕａｌｉｆｉｅｄ"
    # the stale rejection does not close the new episode...
    changes, _ = run(world, after + timedelta(days=4))
    assert changes.rejected == [] and world.handoffs()[1]["status"] == "open"
    # ...a new one does
    world.update_lead(LEAD, status="対象外", status_reason="競合導入済み")
    changes, _ = run(world, after + timedelta(days=5))
    assert world.handoffs()[1]["status"] == "rejected" and world.handoffs()[1]["close_reason"] == "競合導入済み"


def test_re_mql_within_cooldown_waits_for_the_cooldown(world) -> None:
    hot_lead(world)
    run(world, MONDAY)
    world.update_lead(LEAD, status="Rejected")
    run(world, MONDAY + timedelta(days=1))
    world.score(LEAD, 20, MONDAY + timedelta(days=2))
    world.score(LEAD, 90, MONDAY + timedelta(days=3), world.HOT)
    _, plans = run(world, MONDAY + timedelta(days=3))
    assert plans[LEAD].action == "cooldown" and "cooldown until 2025-05-08" in plans[LEAD].detail
    _, plans = run(world, MONDAY + timedelta(days=31, hours=1))
    assert plans[LEAD].action == "create_task"


def test_warm_dip_is_not_a_re_mql_unless_configured(make_world) -> None:
    for setting, expected in (("cold", "already_handed_off"), ("warm", "create_task")):
        world = make_world(requalify_segment=setting, cooldown_days=0, expire_days=1)
        hot_lead(world)
        run(world, MONDAY)
        run(world, MONDAY + timedelta(days=2))  # expires
        world.score(LEAD, 60, MONDAY + timedelta(days=3))
        world.score(LEAD, 85, MONDAY + timedelta(days=4), world.HOT)
        _, plans = run(world, MONDAY + timedelta(days=4))
        assert plans[LEAD].action == expected, setting


def test_expiry_closes_old_episodes(make_world) -> None:
    world = make_world(expire_days=10)
    hot_lead(world)
    run(world, MONDAY)
    changes, _ = run(world, MONDAY + timedelta(days=9))
    assert changes.expired == []
    changes, _ = run(world, MONDAY + timedelta(days=11))
    [row] = world.handoffs()
    assert changes.expired == [row["task_key"]] and row["status"] == "expired"
    assert row["closed_at"] == (MONDAY + timedelta(days=10)).timestamp()


def test_hook_handoff_overdue(world) -> None:
    seen = []

    class Alert:
        @hookimpl
        def handoff_overdue(self, handoff, lead):
            seen.append((handoff.lead_key, handoff.status.value, lead.company))

    world.pm.register(Alert())
    hot_lead(world)
    world.lead("other@example.com")
    world.score("other@example.com", 81, MONDAY)
    run(world, MONDAY)
    # the other lead gets a call before it is due: touched, never overdue
    world.activity("other@example.com", "c1", "call", MONDAY + timedelta(hours=2))
    changes, _ = run(world, MONDAY + timedelta(hours=3))
    assert len(changes.first_touched) == 1
    changes, _ = run(world, MONDAY + timedelta(days=1, hours=1), notify=False)  # preview-like: no notice
    assert seen == [] and changes.overdue_notified == []
    changes, _ = run(world, MONDAY + timedelta(days=1, hours=1))
    assert seen == [(LEAD, "open", "テスト工業")] and len(changes.overdue_notified) == 1
    run(world, MONDAY + timedelta(days=2))
    assert len(seen) == 1


def test_broken_overdue_hook_does_not_stop_the_update(world) -> None:
    class Broken:
        @hookimpl
        def handoff_overdue(self, handoff, lead):
            raise RuntimeError("slack down")

    world.pm.register(Broken())
    hot_lead(world)
    run(world, MONDAY)
    changes, _ = run(world, MONDAY + timedelta(days=3))
    assert len(changes.overdue_notified) == 1 and world.handoffs()[0]["overdue_notified"] == 1


def test_rejected_status_matching(world) -> None:
    handoff = world.settings.handoff
    assert is_rejected_status(" REJECTED ", handoff)
    assert is_rejected_status("見送り", handoff)
    assert not is_rejected_status("Working", handoff) and not is_rejected_status(None, handoff)


def test_task_update_for_unknown_key_is_ignored(world) -> None:
    changes = update_episodes(world.store, world.settings, MONDAY, world.host,
                              [TaskUpdate(key="ls-unknown", completed_at=MONDAY), TaskUpdate(key="x")])
    assert changes.completed == [] and world.handoffs() == []


def test_in_memory_copies_never_notify_by_default(world) -> None:
    seen = []

    class Alert:
        @hookimpl
        def handoff_overdue(self, handoff, lead):
            seen.append(handoff.task_key)

    world.pm.register(Alert())
    hot_lead(world)
    run(world, MONDAY)
    late = MONDAY + timedelta(days=3)
    copy = world.store.snapshot()
    assert update_episodes(copy, world.settings, late, world.host).overdue_notified == []
    assert seen == [] and world.handoffs()[0]["overdue_notified"] == 0
    assert len(update_episodes(world.store, world.settings, late, world.host).overdue_notified) == 1
    assert len(seen) == 1


# --- one owner of task updates: record_task_update (the sync calls it inside the page's transaction) ---

def _open_episode(world):
    hot_lead(world)
    _, plans = run(world, MONDAY)
    return plans[LEAD].task.key


def test_a_completion_before_the_recorded_call_becomes_the_first_touch(world) -> None:
    key = _open_episode(world)
    world.activity(LEAD, "call-1", "call", MONDAY + timedelta(hours=3))
    run(world, MONDAY + timedelta(hours=4))
    assert world.handoffs()[0]["first_touch_at"] == (MONDAY + timedelta(hours=3)).timestamp()
    done = MONDAY + timedelta(hours=1)  # completed earlier than the call, reported later
    with world.store.transaction() as db:
        assert record_task_update(db, TaskUpdate(key=key, completed_at=done)) is True
    [row] = world.handoffs()
    assert (row["status"], row["first_touch_at"], row["closed_at"]) == ("completed", done.timestamp(), done.timestamp())


def test_a_completion_of_a_closed_episode_records_the_touch_and_keeps_its_status(make_world) -> None:
    world = make_world(expire_days=3)
    key = _open_episode(world)
    run(world, MONDAY + timedelta(days=4), notify=False)
    expired = world.handoffs()[0]
    assert expired["status"] == "expired" and expired["first_touch_at"] is None
    done = MONDAY + timedelta(days=5)
    with world.store.transaction() as db:
        assert record_task_update(db, TaskUpdate(key=key, completed_at=done)) is False
    [row] = world.handoffs()
    assert (row["status"], row["closed_at"]) == ("expired", expired["closed_at"])
    assert row["first_touch_at"] == done.timestamp()


def test_an_update_that_is_no_completion_or_of_an_unknown_task_changes_nothing(world) -> None:
    key = _open_episode(world)
    before = world.handoffs()
    with world.store.transaction() as db:
        assert record_task_update(db, TaskUpdate(key=key)) is False
        assert record_task_update(db, TaskUpdate(key="ls-unknown", completed_at=MONDAY)) is False
    assert world.handoffs() == before


def test_the_sync_closes_the_episode_in_the_page_transaction_and_only_through_the_handoff_package(world) -> None:
    key = _open_episode(world)
    done = MONDAY + timedelta(hours=2)
    with world.store.transaction() as db:  # storing records alone never touches an episode
        counts = ingest(db, "crm", [TaskUpdate(key=key, completed_at=done)], stream="tasks",
                        crm_connections={"crm"}, run_id=None)
    assert counts.task_updates == 1 and world.handoffs()[0]["status"] == "open"
    with world.store.transaction() as db:
        ingest(db, "crm", [TaskUpdate(key=key, completed_at=done)], stream="tasks", crm_connections={"crm"},
               run_id=None, on_task_update=record_task_update)
    [row] = world.handoffs()
    assert (row["status"], row["first_touch_at"]) == ("completed", done.timestamp())


def test_a_completion_a_lost_store_forgot_rebuilds_the_episode_even_before_its_lead_is_stored(world) -> None:
    """The CRM reports a completed leadsync task no episode has (the store was lost): it is kept
    until its lead is stored, then rebuilt as a completed episode, so the cooldown and re-MQL hold."""
    key, done = "ls-20250407-0123456789abcdef", MONDAY + timedelta(hours=3)
    with world.store.transaction() as db:  # the task page comes before the lead's page
        ingest(db, "crm", [TaskUpdate(key=key, completed_at=done, email=LEAD.upper())], stream="task_updates",
               crm_connections={"crm"}, run_id=None, on_task_update=record_task_update)
    assert world.handoffs() == []
    hot_lead(world, at=MONDAY + timedelta(days=1))
    changes, plans = run(world, MONDAY + timedelta(days=1))
    assert changes.rebuilt == [key] and plans[LEAD].action == "cooldown" and plans[LEAD].task is None
    [row] = world.handoffs()
    assert (row["status"], row["lead_key"], row["closed_at"], row["first_touch_at"]) == (
        "completed", LEAD, done.timestamp(), done.timestamp())
    assert row["opened_at"] == datetime(2025, 4, 7, tzinfo=ZoneInfo("UTC")).timestamp()
    _, plans = run(world, MONDAY + timedelta(days=31))
    assert plans[LEAD].action == "already_handed_off"  # hot all along: no re-MQL
    world.score(LEAD, 10, MONDAY + timedelta(days=32))  # fell cold, then hot again: a new MQL
    world.score(LEAD, 88, MONDAY + timedelta(days=33), world.HOT)
    _, plans = run(world, MONDAY + timedelta(days=33))
    assert plans[LEAD].action == "create_task" and len(world.handoffs()) == 2


def test_a_completion_naming_no_lead_or_not_of_a_leadsync_key_rebuilds_nothing(world) -> None:
    hot_lead(world)
    done = MONDAY + timedelta(hours=3)
    with world.store.transaction() as db:
        for update in (TaskUpdate(key="ls-20250407-0123456789abcdef", completed_at=done),  # no lead named
                       TaskUpdate(key="task-1", completed_at=done, email=LEAD),  # not a leadsync key
                       TaskUpdate(key="ls-20250407-fedcba9876543210", email=LEAD)):  # not completed
            record_task_update(db, update, "crm")
    changes, plans = run(world, MONDAY + timedelta(hours=4))
    assert changes.rebuilt == [] and plans[LEAD].action == "create_task"


def test_a_rebuilt_episode_keeps_the_owner_the_crm_reports_for_its_task(world) -> None:
    """The lead is stored when the completion arrives: the episode is rebuilt at once, owned by
    whoever the task was assigned to (NFKC'd like every owner). A completion kept until its lead
    arrives keeps its owner meanwhile."""
    hot_lead(world)
    done = MONDAY + timedelta(hours=3)
    with world.store.transaction() as db:
        record_task_update(db, TaskUpdate(key="ls-20250407-00000000000000aa", completed_at=done, email=LEAD,
                                          owner="ｓａｔｏ"), "crm")
        record_task_update(db, TaskUpdate(key="ls-20250401-00000000000000bb", completed_at=done - timedelta(days=5),
                                          email=LEAD), "crm")  # an earlier one: the CRM named no owner
        record_task_update(db, TaskUpdate(key="ls-20250407-00000000000000cc", completed_at=done,
                                          email="later@example.co.jp", owner="kato"), "crm")
    world.lead("later@example.co.jp", company="後で工業")
    run(world, MONDAY + timedelta(hours=4))
    owners = {row["task_key"]: (row["lead_key"], row["status"], row["owner"]) for row in world.handoffs()}
    assert owners == {"ls-20250407-00000000000000aa": (LEAD, "completed", "sato"),
                      "ls-20250401-00000000000000bb": (LEAD, "completed", None),
                      "ls-20250407-00000000000000cc": ("later@example.co.jp", "completed", "kato")}
