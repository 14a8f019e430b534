"""`leadsync sync run` as a child process against the fake kintone: concurrent updates, kill -9."""

from __future__ import annotations


def assert_exactly_once(world, truth) -> None:
    handoff_keys, pending, scores, dead = truth(world.store())
    tasks = world.vendor_tasks()
    assert {key: len(found) for key, found in tasks.items() if len(found) > 1} == {}, "a task was created twice"
    assert set(tasks) == handoff_keys, "every handoff has exactly its one task in the CRM"
    assert pending == 0 and dead == 0
    assert world.vendor_scores() == scores, "every score the state store holds is the one the CRM holds"


def test_a_concurrent_update_on_the_task_put_ends_one_run_later_in_exactly_one_task(kt_world, reliability):
    world = kt_world()
    first = world.run()  # scores and tasks; then a new hot lead meets a concurrent update
    assert first["exit_status"] == 0 and first["tasks_created"] > 0
    for _ in range(12):  # edit leads until some turn hot: their task PUTs meet the concurrent update
        world.fake.put_faults.clear()
        # Enough faults that every PUT of the batch and of its halves (bisection) meets one, however
        # many leads turn hot in this run (the demo data decides that).
        for _ in range(250):
            world.fake.fail_next_put(409, "GAIA_CO02", "The revision is not the latest. Someone may update a record.", app=30)
        world.mutate()
        summary = world.run()
        assert summary["dead_lettered"] == 0, summary
        if len(world.fake.put_faults) < 250:
            break
        assert summary["exit_status"] == 0, summary
    assert len(world.fake.put_faults) < 250, "no task PUT met the fault"
    world.fake.put_faults.clear()
    assert summary["retry_later"] >= 1 and summary["tasks_created"] == summary["tasks_planned"] - summary["retry_later"]
    assert summary["exit_status"] == 6, summary  # 6: writes wait for the next run
    settle = world.run()
    assert settle["exit_status"] == 0 and settle["dead_lettered"] == 0, settle
    again = world.run()
    assert (again["tasks_created"], again["scores_pushed"]) == (0, 0), again
    assert_exactly_once(world, reliability.truth)


def test_kill_minus_9_at_random_moments_then_rerun_exactly_one_task_per_handoff(kt_world, reliability):
    world = kt_world(latency=0.01)
    figures = reliability.kill_until_settled(world, reliability.trials())
    print(f"\nkintone kill -9 figures: {figures}")
    assert figures["killed"] >= max(1, figures["trials"] // 2), figures
    assert_exactly_once(world, reliability.truth)



def test_lost_state_then_a_run_creates_no_task_it_adopts_the_open_ones(kt_world, reliability):
    """The state database (with -wal and -shm) is gone after the CRM got its tasks: the next run,
    an hour later (so every handoff is planned under a new key), creates no task."""
    from datetime import timedelta

    world = kt_world()
    first = world.run()
    assert first["exit_status"] == 0 and first["tasks_created"] > 0, first
    before = world.vendor_tasks()
    world.lose_state()
    later = reliability.anchor + timedelta(hours=1)
    again = world.run(as_of=later)
    assert again["exit_status"] == 0 and again["dead_lettered"] == 0, again
    assert again["tasks_planned"] >= len(before), "the handoffs were planned again under new keys"
    assert world.vendor_tasks().keys() == before.keys(), "no new task: every handoff adopted its open task"
    assert {k: len(v) for k, v in world.vendor_tasks().items() if len(v) > 1} == {}
    handoff_keys, pending, _, _ = reliability.truth(world.store())
    assert handoff_keys == set(before) and pending == 0, "the handoffs are tracked under the CRM's keys"
    settled = world.run(as_of=later)
    assert (settled["tasks_created"], settled["tasks_planned"]) == (0, 0), settled


def test_answers_lost_then_sales_completes_and_reassigns_then_the_resend_writes_nothing(kt_world, reliability):
    """Every task create was applied but its answer lost (the outbox rows are still pending, as
    after a kill -9 past the PUT); sales completes one To-Do and reassigns another before the next
    run. The resend writes no task, leaves both as sales left them, and tracks every handoff."""
    world = kt_world()
    first = world.run()
    assert first["exit_status"] == 0 and first["tasks_created"] >= 2, first
    store = world.store()
    with store.transaction() as db:  # the answers never arrived: the rows stay pending
        lost = db.execute("UPDATE outbox SET status = 'pending', external_id = NULL WHERE kind = 'task'").rowcount
    store.close()
    tasks = world.vendor_tasks()
    (done_key, [done]), (moved_key, [moved]) = sorted(tasks.items())[:2]
    done_id = next(i for i, r in world.fake.records(30).items() if r is done)
    moved_id = next(i for i, r in world.fake.records(30).items() if r is moved)
    world.fake.edit_record(30, done_id, {"ステータス": "完了", "完了日時": "2026-11-20T02:00:00Z"})
    world.fake.edit_record(30, moved_id, {"担当者": [{"code": "kato"}], "ステータス": "対応中"})
    snapshot = {i: dict(world.fake.records(30)[i]) for i in (done_id, moved_id)}
    task_puts = lambda: [e for e in world.fake.log if e[0] == "PUT" and int(e[2].get("app") or 0) == 30]  # noqa: E731
    puts = len(task_puts())
    again = world.run()
    assert again["exit_status"] == 0 and again["dead_lettered"] == 0, again
    assert again["tasks_created"] == lost, "every resent key was acknowledged from the look-up"
    assert len(task_puts()) == puts, "no task record was written again"
    assert {i: world.fake.records(30)[i] for i in snapshot} == snapshot, "status, owner and revision as sales left them"
    handoff_keys, pending, _, _ = reliability.truth(world.store())
    assert pending == 0 and handoff_keys == set(tasks) and done_key in handoff_keys and moved_key in handoff_keys
