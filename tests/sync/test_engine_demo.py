"""End to end on the bundled demo with the built-in file connector: run, rerun, dry run, bad rows."""

from __future__ import annotations

import csv
import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from leadsync.connectors.hookspecs import hookimpl
from leadsync.connectors.plugins import get_plugin_host
from leadsync.core.cli.main import cli
from leadsync.core.config import load_settings
from leadsync.connectors.testing.project import demo_project
from leadsync.core.sync.engine import RunOptions, run_sync

ANCHOR = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("demo-src") / "project"
    demo_project(folder, None, anchor=ANCHOR, owners=("sato", "suzuki", "tanaka"),
                 ma_roles=("leads", "activities", "scores", "tasks"))
    return folder


@pytest.fixture
def demo(demo_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "demo"
    shutil.copytree(demo_dir, folder)
    return folder


def leadsync(folder: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(folder / "leadsync.toml"), *args], catch_exceptions=False)
    return result.exit_code, result.stdout


def run_json(folder: Path, *args: str) -> dict:
    code, out = leadsync(folder, "sync", "run", "--json", "--as-of", ANCHOR.isoformat(), *args)
    summary = json.loads(out)
    assert summary["exit_status"] == code
    return summary


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_first_run_pulls_scores_hands_off_and_pushes(demo: Path):
    summary = run_json(demo)
    assert summary["exit_status"] == 0
    assert summary["pulled"]["ma"]["leads"] >= 300
    assert summary["pulled"]["ma"]["activities"] >= 5000
    assert summary["scored"] >= 300
    assert summary["tasks_created"] > 0
    assert summary["tasks_created"] == summary["tasks_planned"]
    assert summary["scores_pushed"] == summary["scored"]
    tasks = read_csv(demo / "out" / "tasks.csv")
    assert len(tasks) == summary["tasks_created"]
    assert len({t["key"] for t in tasks}) == len(tasks)
    scores = read_csv(demo / "out" / "scores.csv")
    assert {s["segment"] for s in scores} == {"hot", "warm", "cold"}
    hot = {s["email"] for s in scores if s["segment"] == "hot"}
    assert {t["email"] for t in tasks} <= hot


def test_second_run_pushes_nothing_and_creates_no_task(demo: Path):
    first = run_json(demo)
    tasks_before = (demo / "out" / "tasks.csv").read_bytes()
    second = run_json(demo)
    assert second["exit_status"] == 0
    assert second["pulled"]["ma"] == {"leads": 0, "activities": 0, "opportunities": 0}  # unchanged files: nothing read
    assert (second["scores_pushed"], second["tasks_created"], second["scores_planned"]) == (0, 0, 0)
    assert (demo / "out" / "tasks.csv").read_bytes() == tasks_before
    assert first["tasks_created"] > 0


def test_dry_run_writes_nothing(demo: Path):
    summary = run_json(demo, "--dry-run")
    assert summary["dry_run"] and summary["tasks_planned"] > 0 and summary["tasks_created"] == 0
    assert not (demo / "out").exists()
    assert not (demo / "state").exists()
    run_json(demo)
    state = (demo / "state" / "state.db").read_bytes()
    again = run_json(demo, "--dry-run")
    assert again["tasks_planned"] == 0
    assert (demo / "state" / "state.db").read_bytes() == state


def test_bad_rows_are_dead_lettered_and_the_run_goes_on(demo: Path):
    with (demo / "data" / "activities.csv").open("a", encoding="utf-8") as handle:
        handle.write("bad-1,someone@example.com,email_open,2026-13-45T10:00:00,,,\n")
    summary = run_json(demo)
    assert summary["exit_status"] == 1
    assert summary["dead_lettered"] == 1
    assert summary["tasks_created"] > 0
    code, out = leadsync(demo, "sync", "status", "--json")
    status = json.loads(out)
    assert code == 0 and status["dead_letters_total"] == 1
    assert "activities.csv" in status["dead_letters"][0]["record_key"]


def test_hook_handoff_created(demo: Path):
    seen = []

    class Notifier:
        @hookimpl
        def handoff_created(self, handoff, task):
            seen.append((handoff.lead_key, task.key, handoff.task_key, type(handoff).__name__))

    host = get_plugin_host(load_entrypoints=False)
    host.pm.register(Notifier())
    summary = run_sync(load_settings(demo / "leadsync.toml"), host, RunOptions(as_of=ANCHOR))
    assert len(seen) == summary.tasks_created > 0
    assert all(task_key == handoff_key and kind == "Handoff" for _, task_key, handoff_key, kind in seen)


def test_handoff_preview_lists_hot_leads_without_writing(demo: Path):
    code, out = leadsync(demo, "handoff", "preview", "--format", "json", "--as-of", ANCHOR.isoformat())
    assert code == 0
    plans = json.loads(out)
    assert plans and all(p["segment"] == "hot" for p in plans)
    assert {"email", "name", "company", "score", "owner", "due_at", "reasons", "connection", "action"} <= set(plans[0])
    assert any(p["action"] == "create_task" for p in plans)
    assert not (demo / "state").exists() and not (demo / "out").exists()
    run_json(demo)
    code, out = leadsync(demo, "handoff", "preview", "--format", "json", "--as-of", ANCHOR.isoformat())
    assert all(p["action"] != "create_task" for p in json.loads(out))


def test_requeue_retries_dead_letters(demo: Path):
    lines = (demo / "data" / "activities.csv").read_text(encoding="utf-8-sig").splitlines()
    header = lines[0]
    bad = "bad-1,someone@example.com,email_open,not-a-date,,,"
    (demo / "data" / "activities.csv").write_text("\n".join([header, *lines[1:], bad]) + "\n", encoding="utf-8")
    assert run_json(demo)["exit_status"] == 1
    # The export is fixed, and the dead letter re-queued: the stream is read again.
    (demo / "data" / "activities.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out = leadsync(demo, "sync", "requeue", "--all")
    assert code == 0 and "re-queued 1" in out
    summary = run_json(demo)
    assert summary["exit_status"] == 0
    assert summary["pulled"]["ma"]["activities"] >= 5000
    code, out = leadsync(demo, "sync", "status", "--json")
    assert json.loads(out)["dead_letters_total"] == 0
    code, _ = leadsync(demo, "sync", "requeue")
    assert code == 2
