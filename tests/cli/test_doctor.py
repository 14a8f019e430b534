"""`leadsync doctor`: one report, and the exit status of the worst problem."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from leadsync.core.errors import StateStoreError
from leadsync.core.state.store import StateStore


def _doctor(run_cli) -> tuple[int, dict]:
    result = run_cli("doctor", "--json")
    return result.exit_code, json.loads(result.stdout)


def _status(report: dict, area: str) -> set[str]:
    return {c["status"] for c in report["checks"] if c["area"] == area}


def test_a_healthy_demo_is_all_ok_with_every_area_reported(demo: Path, run_cli):
    assert run_cli("sync", "run", "--quiet").exit_code == 0
    code, report = _doctor(run_cli)
    assert code == 0 and report["ok"] and report["exit_status"] == 0
    areas = {c["area"] for c in report["checks"]}
    assert areas == {"config", "sheet", "calendar", "state", "connection", "owners", "plugin"}
    assert all(c["status"] == "ok" for c in report["checks"]), report
    assert any(c["name"] == "file" and "leadsync (built-in)" in c["detail"] for c in report["checks"])
    table = run_cli("doctor")
    assert table.exit_code == 0 and "leadsync doctor" in table.stdout and "0 problem(s)" in table.stderr


def test_a_corrupt_state_store_is_exit_5(demo: Path, run_cli):
    assert run_cli("sync", "run", "--quiet").exit_code == 0
    db = demo / ".leadsync/state.db"
    sqlite3.connect(db).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    data = bytearray(db.read_bytes())
    page = 4096
    for start in range(page * 2, len(data) - page, page):  # every page but the header and the last
        data[start + 100:start + 400] = b"\xff" * 300
    db.write_bytes(bytes(data))
    code, report = _doctor(run_cli)
    assert code == 5 and _status(report, "state") == {"FAILED"}


def test_a_state_store_of_a_newer_schema_is_a_problem(demo: Path, run_cli):
    assert run_cli("sync", "run", "--quiet").exit_code == 0
    db = sqlite3.connect(demo / ".leadsync/state.db")
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(StateStoreError, match="schema 99, newer than this leadsync"):
        StateStore(demo / ".leadsync/state.db", readonly=True)
    code, report = _doctor(run_cli)
    assert code == 5 and _status(report, "state") == {"FAILED"}


def test_a_failing_connection_is_exit_4_and_named(demo: Path, run_cli):
    shutil.rmtree(demo / "data")
    code, report = _doctor(run_cli)
    assert code == 4
    failed = [c for c in report["checks"] if c["status"] == "FAILED"]
    assert [c["name"] for c in failed] == ["demo"]


def test_a_broken_sheet_is_exit_2_and_still_reports_the_rest(demo: Path, run_cli):
    (demo / "scoring-sheet.csv").write_text("nonsense,columns\n1,2\n", encoding="utf-8")
    code, report = _doctor(run_cli)
    assert code == 2 and _status(report, "sheet") == {"FAILED"}
    assert _status(report, "connection") == {"ok"}


def test_no_owners_is_a_warning_not_a_failure(demo: Path, run_cli):
    config = demo / "leadsync.toml"
    lines = [ln for ln in config.read_text(encoding="utf-8").splitlines() if not ln.startswith("owners =")]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, report = _doctor(run_cli)
    assert code == 0 and _status(report, "owners") == {"warning"}
