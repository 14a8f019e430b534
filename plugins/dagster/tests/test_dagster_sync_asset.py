"""The asset in Dagster's own in-process test APIs: the demo runs, failures carry the summary."""

from __future__ import annotations

import csv
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

dg = pytest.importorskip("dagster", reason="dagster is not installed (pip install -e plugins/dagster)")

from leadsync.core.config import load_settings  # noqa: E402
from leadsync.core.sync.lock import RunLock  # noqa: E402
from leadsync_dagster import leadsync_definitions, project_assets, sync_asset  # noqa: E402

TOKEN = "pat-na1-secret-token-never-shown"


def _materialize(assets_def: Any, key: str) -> Any:
    with dg.DagsterInstance.ephemeral() as instance:  # closed here, not by the garbage collector in a thread
        result = dg.materialize([assets_def], partition_key=key, raise_on_error=False, instance=instance)
        result.log_lines = [entry.user_message for entry in instance.all_logs(result.run_id)]  # what the UI shows
    return result


def _metadata(result: Any) -> dict[str, Any]:
    (materialization,) = result.asset_materializations_for_node("leadsync_sync")
    return {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}


def _failure(result: Any) -> tuple[str, dict[str, Any]]:
    (event,) = result.get_step_failure_events()
    data = event.step_failure_data.user_failure_data
    assert data is not None, event.step_failure_data.error
    return data.description, {k: getattr(v, "value", v) for k, v in data.metadata.items()}


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_demo_runs_in_a_partition_and_the_second_run_writes_nothing(make_project: Callable[..., Path]) -> None:
    config = make_project("demo")
    assets_def = sync_asset([config])
    first = _materialize(assets_def, "demo")
    assert first.success
    meta = _metadata(first)
    assert meta["project"] == "demo" and meta["exit_status"] == 0 and meta["verdict"] == "success"
    assert meta["pulled"]["demo"]["leads"] == 300 and meta["records_pulled"] > 300
    assert meta["scores_pushed"] == 300 and meta["dead_lettered"] == 0
    assert meta["tasks_created"] == meta["tasks_planned"] > 0
    assert meta["summary"]["run_id"] == meta["run_id"] == 1
    tasks = _rows(config.parent / "out" / "tasks.csv")
    assert len(tasks) == meta["tasks_created"]

    second = _materialize(assets_def, "demo")
    assert second.success
    again = _metadata(second)
    assert again["run_id"] == 2
    assert again["tasks_created"] == again["scores_pushed"] == again["tasks_planned"] == 0
    assert len(_rows(config.parent / "out" / "tasks.csv")) == len(tasks)


def test_each_partition_runs_its_own_project(make_project: Callable[..., Path]) -> None:
    east, west = make_project("east"), make_project("west")
    defs = leadsync_definitions([east, west], cron_schedule=None)
    assets_def = next(iter(defs.assets))  # type: ignore[arg-type]
    assert sorted(assets_def.partitions_def.get_partition_keys()) == ["east", "west"]
    assert _materialize(assets_def, "west").success
    assert not (east.parent / ".leadsync").exists()  # east untouched so far
    assert (west.parent / ".leadsync" / "state.db").exists()
    assert _metadata(_materialize(assets_def, "east"))["run_id"] == 1


def test_a_missing_data_folder_is_a_failure_with_the_summary(make_project: Callable[..., Path]) -> None:
    config = make_project("broken")
    config.write_text(config.read_text(encoding="utf-8").replace('path = "data"', 'path = "missing"'), encoding="utf-8")
    result = _materialize(sync_asset([config]), "broken")
    assert not result.success
    description, meta = _failure(result)
    assert meta["exit_status"] == 2 and meta["verdict"] == "failure"
    assert "missing" in meta["error"] and "exit 2" in description
    assert meta["summary"] == {"run_id": None, "exit_status": 2, "error": meta["error"]}
    assert result.asset_materializations_for_node("leadsync_sync") == []


def test_a_vendor_on_a_closed_port_is_a_failure_with_counts_and_no_secret(make_project: Callable[..., Path]) -> None:
    pytest.importorskip("leadsync_hubspot", reason="the HubSpot plugin is not installed")
    config = make_project("down", f"""
[connections.crm]
plugin = "hubspot"
token = "{TOKEN}"
base_url = "http://127.0.0.1:{_closed_port()}"
max_retries = 0
roles = ["leads", "scores", "tasks"]
""")
    result = _materialize(sync_asset([config]), "down")
    assert not result.success
    description, meta = _failure(result)
    assert meta["exit_status"] == 4 and meta["run_id"] == 1
    assert set(meta["failures"]) == {"crm"} and "crm" in description
    assert meta["pulled"]["demo"]["leads"] == 300 and meta["pulled"]["crm"]["leads"] == 0
    assert meta["tasks_created"] == meta["scores_pushed"] == 0  # nothing is handed off from partial data
    logs = "\n".join(result.log_lines)
    assert "connection crm failed" in logs  # the engine's own log lines reach Dagster's log
    assert TOKEN not in repr(meta) and TOKEN not in description and TOKEN not in logs


def test_a_held_lock_fails_at_once_with_exit_3(make_project: Callable[..., Path]) -> None:
    config = make_project("busy")
    assets_def = sync_asset([config])
    with RunLock(load_settings(config).state_path):
        with pytest.raises(dg.Failure) as caught:
            assets_def(dg.build_asset_context(partition_key="busy"))
    meta = {k: getattr(v, "value", v) for k, v in caught.value.metadata.items()}
    assert meta["exit_status"] == 3 and "another leadsync run" in meta["error"]
    assert not caught.value.allow_retries


def test_dead_letters_succeed_with_a_warning(make_project: Callable[..., Path]) -> None:
    config = make_project("dirty")
    with (config.parent / "data" / "leads.csv").open("a", encoding="utf-8") as handle:
        handle.write("L99999,not-an-email,太郎,山田,テスト株式会社,,,,,,,,新規,"
                     "2026-05-14T13:03:00+09:00,2026-06-16T13:03:00+09:00\n")
    result = _materialize(sync_asset([config]), "dirty")
    assert result.success
    meta = _metadata(result)
    assert meta["exit_status"] == 1 and meta["verdict"] == "warning" and meta["dead_lettered"] == 1
    warnings = [line for line in result.log_lines if "exit 1" in line and "1 dead-lettered" in line]
    assert warnings, "the dead letters are logged as a warning"


def test_an_interrupted_run_asks_for_a_retry_and_the_next_run_resumes(make_project: Callable[..., Path]) -> None:
    config = make_project("slow")
    stopping = sync_asset([config], max_duration_minutes=1e-9, retries=2, retry_wait_s=0)
    with pytest.raises(dg.RetryRequested) as caught:
        stopping(dg.build_asset_context(partition_key="slow"))
    assert caught.value.max_retries == 2
    in_dagster = _materialize(stopping, "slow")  # every attempt stops at its first page: retried, then failed
    assert not in_dagster.success
    retries = [e for e in in_dagster.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len(retries) == 2
    done = _materialize(sync_asset([config]), "slow")
    meta = _metadata(done)
    assert meta["exit_status"] == 0 and meta["run_id"] == 5  # 1 direct + 3 attempts + this one and meta["scores_pushed"] == 300


def test_the_schedule_requests_one_run_per_project_per_tick(make_project: Callable[..., Path]) -> None:
    defs = leadsync_definitions([make_project("a"), make_project("b")], cron_schedule="*/30 * * * *")
    job = defs.resolve_job_def("leadsync_sync_job")
    assert job.partitions_def is not None and sorted(job.partitions_def.get_partition_keys()) == ["a", "b"]
    (sched,) = defs.schedules  # type: ignore[misc]
    assert sched.cron_schedule == "*/30 * * * *"
    from datetime import datetime, timezone

    requests = []
    for tick in (datetime(2026, 4, 1, 9, 0, tzinfo=timezone.utc), datetime(2026, 4, 1, 9, 30, tzinfo=timezone.utc)):
        context = dg.build_schedule_context(scheduled_execution_time=tick, repository_def=defs.get_repository_def())
        requests += list(sched.evaluate_tick(context).run_requests or [])
    assert sorted(r.partition_key for r in requests) == ["a", "a", "b", "b"]
    assert len({r.run_key for r in requests}) == 4


def test_one_asset_per_project_runs_every_project_in_one_run(make_project: Callable[..., Path]) -> None:
    good, broken = make_project("good"), make_project("bad one")
    broken.write_text(broken.read_text(encoding="utf-8").replace('path = "data"', 'path = "missing"'), encoding="utf-8")
    assets = project_assets([good, broken])
    assert [a.key.to_user_string() for a in assets] == ["leadsync_good", "leadsync_bad_one"]
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(assets, raise_on_error=False, instance=instance)
    assert not result.success  # one project failed ...
    (done,) = result.asset_materializations_for_node("leadsync_good")  # ... the other was synced
    assert done.metadata["scores_pushed"].value == 300
    (failed,) = result.get_step_failure_events()
    assert failed.step_key == "leadsync_bad_one"
    assert failed.step_failure_data.user_failure_data.metadata["exit_status"].value == 2
