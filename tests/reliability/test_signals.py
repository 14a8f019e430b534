"""SIGTERM and SIGINT (cron timeouts, Ctrl-C) stop a run cleanly; the next run duplicates nothing."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest


def _assert_exactly_once(world) -> None:
    store = world.store()
    try:
        handoff_keys = {row[0] for row in store.db.execute("SELECT task_key FROM handoffs")}
        pending = store.db.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").fetchone()[0]
    finally:
        store.close()
    tasks = world.vendor_tasks()
    assert {key: len(found) for key, found in tasks.items() if len(found) > 1} == {}, "a task was created twice"
    assert set(tasks) == handoff_keys
    assert pending == 0


def _status_json(world) -> dict:
    command = world.command()[:5] + ["sync", "status", "--json"]  # python -m leadsync --config FILE
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, env=world.env())
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _slow_task_answers(world, seconds: float) -> None:
    """The CRM applies each task create at once but answers it `seconds` later."""
    original = world.server._apply

    def applied_then_slow(request, within_limit):
        response = original(request, within_limit)
        if request.path.endswith("/tasks/batch/create"):
            time.sleep(seconds)
        return response

    world.server._apply = applied_then_slow


def _runs(world) -> list[dict]:
    store = world.store()
    try:
        return [dict(r) for r in store.db.execute("SELECT id, status, exit_status FROM runs ORDER BY id")]
    finally:
        store.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_a_task_create_finishes_the_batch_then_stops(world_factory, signum):
    world = world_factory()
    _slow_task_answers(world, 1.5)
    process = world.start()
    deadline = time.monotonic() + 90
    while not world.vendor_tasks():  # the first batch is applied; its answer is on its way
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()[1][-2000:]
        time.sleep(0.01)
    process.send_signal(signum)
    out, err = process.communicate(timeout=120)

    assert process.returncode == 7, err[-2000:]
    summary = json.loads(out)
    assert summary["exit_status"] == 7
    assert signal.Signals(signum).name in summary["interrupted"]
    # the batch in flight was answered and recorded; the batches after it (the scores) were not sent
    assert summary["tasks_created"] == summary["tasks_planned"] > 0
    assert summary["scores_pushed"] < summary["scores_planned"]
    assert _runs(world)[-1]["status"] == "interrupted"

    status = _status_json(world)
    assert status["runs"][0]["status"] == "interrupted"

    rerun = world.summary(world.run())  # at once
    assert rerun["exit_status"] == 0
    _assert_exactly_once(world)
    assert [r["status"] for r in _runs(world)] == ["interrupted", "ok"]


def test_max_duration_stops_between_batches_and_the_next_run_resumes(world_factory):
    world = world_factory()
    _slow_task_answers(world, 4)
    result = world.run("--max-duration", "0.01")  # 0.6 s: a task batch alone takes longer
    assert result.returncode == 7, result.stderr[-2000:]
    summary = world.summary(result)
    assert "max duration" in summary["interrupted"]
    rerun = world.summary(world.run())
    assert rerun["exit_status"] == 0
    _assert_exactly_once(world)


def test_a_killed_run_is_shown_as_killed_not_running(world_factory):
    world = world_factory()
    process = world.start()
    deadline = time.monotonic() + 90
    while not _runs_safely(world):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    process.kill()
    process.communicate(timeout=30)
    assert world.summary(world.run())["exit_status"] == 0
    statuses = [r["status"] for r in _runs(world)]
    assert statuses[0] == "killed" and statuses[-1] == "ok"
    assert "running" not in statuses


def _runs_safely(world) -> list[dict]:
    try:
        return _runs(world)
    except Exception:  # the store is not created yet
        return []
