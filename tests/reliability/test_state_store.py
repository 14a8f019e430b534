"""A broken, full, read-only or newer state store: one line naming the file and what to do, exit 5.

This machine runs the tests as root, for whom file modes do not stop writes: a read-only store is
opened through the documented ``LEADSYNC_STATE_READONLY=1`` (SQLite's ``mode=ro``), and a full
disk is a file-size limit (RLIMIT_FSIZE) on the child process, which makes the OS refuse writes.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from leadsync.connectors.testing.project import demo_project
from leadsync.core.errors import EXIT_STATE, StateStoreError
from leadsync.core.state.store import StateStore

READ_ONLY_COMMANDS = [
    ["sync", "status", "--json"],
    ["handoff", "preview", "--no-pull", "--format", "json"],
    ["report", "feedback", "--format", "json"],
    ["score", "explain", "nobody@example.com"],
]


@pytest.fixture
def project(tmp_path):
    project = demo_project(tmp_path, None, leads=60, activities=600, ma_roles=("leads", "activities", "scores"))
    project.state = project.folder / "state" / "state.db"
    return project


def leadsync(project, *args: str, env: dict[str, str] | None = None, preexec=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leadsync", "--config", str(project.config_path), *args],
        capture_output=True, text=True, timeout=120, env={**os.environ, "LEADSYNC_LOAD_PLUGINS": "", **(env or {})},
        preexec_fn=preexec,
    )


def assert_one_line_exit_5(result: subprocess.CompletedProcess[str], path: Path, *words: str) -> None:
    assert result.returncode == EXIT_STATE, (result.returncode, result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert str(path) in lines[0]
    for word in words:
        assert word in lines[0], lines[0]


def test_not_a_database_is_exit_5_for_every_command(project):
    project.state.parent.mkdir(parents=True)
    project.state.write_bytes(b"this is not SQLite at all\n" * 200)
    for args in (["sync", "run"], *READ_ONLY_COMMANDS):
        assert_one_line_exit_5(leadsync(project, *args), project.state, "not a leadsync state store", "backup")
    assert project.state.read_bytes().startswith(b"this is not SQLite")  # left as it was


def test_newer_schema_is_exit_5_and_left_untouched(project):
    assert leadsync(project, "sync", "run").returncode == 0
    db = sqlite3.connect(project.state)
    db.execute("PRAGMA user_version = 99")
    db.close()
    for args in (["sync", "run"], *READ_ONLY_COMMANDS):
        assert_one_line_exit_5(leadsync(project, *args), project.state, "schema 99", "upgrade leadsync")
    assert sqlite3.connect(project.state).execute("PRAGMA user_version").fetchone()[0] == 99


def test_read_only_store_serves_read_commands_and_refuses_writes(project):
    assert leadsync(project, "sync", "run").returncode == 0
    before = project.state.read_bytes()
    readonly = {"LEADSYNC_STATE_READONLY": "1"}
    assert_one_line_exit_5(leadsync(project, "sync", "run", env=readonly), project.state, "read-only")
    email = sqlite3.connect(project.state).execute("SELECT email FROM leads WHERE email IS NOT NULL").fetchone()[0]
    for args in READ_ONLY_COMMANDS:
        args = [email if a == "nobody@example.com" else a for a in args]
        result = leadsync(project, *args, env=readonly)
        assert result.returncode == 0, (args, result.stderr[-2000:])
    assert json.loads(leadsync(project, "sync", "status", "--json", env=readonly).stdout)["runs"][0]["status"] == "ok"
    assert project.state.read_bytes() == before


def _full_disk(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def _schema_wal_bytes(tmp_path: Path) -> int:
    """The WAL a new store's migrations write (about 340 KB at schema 12; it grows with every migration)."""
    path = tmp_path / "scratch" / "state.db"
    path.parent.mkdir()
    store = StateStore(path)
    try:
        return os.path.getsize(f"{path}-wal")
    finally:
        store.close()


def test_a_full_disk_mid_run_is_exit_5_and_nothing_half_written(project, tmp_path):
    # The disk fills 90 KB after the schema is created: the run has started and read some pages.
    result = leadsync(project, "sync", "run", preexec=_full_disk(_schema_wal_bytes(tmp_path) + 90 * 1024))
    assert_one_line_exit_5(result, project.state, "nothing of the step was written")
    db = sqlite3.connect(project.state)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # Each page of records commits with its cursor or not at all: no cursor without its records.
    assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1  # it failed mid-run
    cursors = db.execute("SELECT COUNT(*) FROM cursors").fetchone()[0]
    leads = db.execute("SELECT COUNT(*) FROM leads").fetchone()[0]
    assert leads > 0 or cursors == 0
    db.close()
    # With room again, the next run completes and ends where a run that never failed ends.
    again = leadsync(project, "sync", "run", "--json")
    assert again.returncode == 0, again.stderr[-2000:]
    assert sqlite3.connect(project.state).execute("SELECT COUNT(*) FROM scores").fetchone()[0] == 60


def test_store_full_inside_a_transaction_rolls_back_whole(tmp_path):
    store = StateStore(tmp_path / "state.db")
    store.db.execute("PRAGMA max_page_count = %d" % (store.db.execute("PRAGMA page_count").fetchone()[0] + 2))
    with pytest.raises(StateStoreError, match="disk is full") as caught:
        with store.transaction() as db:
            for n in range(2000):
                db.execute("INSERT INTO kv(key, value) VALUES (?, ?)", (f"k{n}", json.dumps("x" * 200)))
    assert str(tmp_path / "state.db") in str(caught.value)
    assert store.db.execute("SELECT COUNT(*) FROM kv").fetchone()[0] == 0
    assert not store.db.in_transaction
