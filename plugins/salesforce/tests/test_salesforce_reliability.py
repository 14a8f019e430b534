"""`leadsync sync run` as a child process against the fake org: row locks, kill -9 at random moments."""

from __future__ import annotations


def assert_exactly_once(world, truth) -> None:
    handoff_keys, pending, scores, dead = truth(world.store())
    tasks = world.vendor_tasks()
    assert {key: len(found) for key, found in tasks.items() if len(found) > 1} == {}, "a task was created twice"
    assert set(tasks) == handoff_keys, "every handoff has exactly its one task in the CRM"
    assert pending == 0 and dead == 0
    assert world.vendor_scores() == scores, "every score the state store holds is the one the CRM holds"


def test_a_lock_error_on_a_task_upsert_ends_one_run_later_in_exactly_one_task(sf_world, reliability):
    world = sf_world()
    world.app.lock_rows(3)  # the first three task records of the run meet UNABLE_TO_LOCK_ROW
    first = world.run()
    assert first["exit_status"] == 6 and first["dead_lettered"] == 0, first  # 6: writes wait for the next run
    assert first["retry_later"] == 3 and first["tasks_created"] == first["tasks_planned"] - 3
    handoff_keys, pending, _, _ = reliability.truth(world.store())
    assert pending == 3 and len(world.vendor_tasks()) == len(handoff_keys) - 3
    second = world.run()
    assert second["exit_status"] == 0 and second["tasks_created"] == 3, second
    assert_exactly_once(world, reliability.truth)


def test_kill_minus_9_at_random_moments_then_rerun_exactly_one_task_per_handoff(sf_world, reliability):
    world = sf_world(latency=0.01)
    figures = reliability.kill_until_settled(world, reliability.trials())
    print(f"\nsalesforce kill -9 figures: {figures}")
    assert figures["killed"] >= max(1, figures["trials"] // 2), figures
    assert_exactly_once(world, reliability.truth)



def test_lost_state_then_a_run_creates_no_task_it_adopts_the_open_ones(sf_world, reliability):
    """The state database (with -wal and -shm) is gone after the CRM got its tasks: the next run,
    an hour later (so every handoff is planned under a new key), creates no task."""
    from datetime import timedelta

    world = sf_world()
    first = world.run()
    assert first["exit_status"] == 0 and first["tasks_created"] > 0, (first, reliability.dead_letters(world.store()))
    before = world.vendor_tasks()
    world.lose_state()
    later = reliability.anchor + timedelta(hours=1)
    again = world.run(as_of=later)
    assert again["exit_status"] == 0 and again["dead_lettered"] == 0, (again, reliability.dead_letters(world.store()))
    assert again["tasks_planned"] >= len(before), "the handoffs were planned again under new keys"
    assert world.vendor_tasks().keys() == before.keys(), "no new task: every handoff adopted its open task"
    assert {k: len(v) for k, v in world.vendor_tasks().items() if len(v) > 1} == {}
    handoff_keys, pending, _, _ = reliability.truth(world.store())
    assert handoff_keys == set(before) and pending == 0, "the handoffs are tracked under the CRM's keys"
    settled = world.run(as_of=later)
    assert (settled["tasks_created"], settled["tasks_planned"]) == (0, 0), settled
