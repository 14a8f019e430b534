"""What `sync run` leaves for cron: one stderr line, JSON even on failure, global options anywhere (issue 14: 3, 10, 11)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from leadsync.core.sync.lock import RunLock


def _add_bad_activity(demo: Path) -> None:
    with open(demo / "data/activities.csv", "a", encoding="utf-8", newline="") as handle:
        handle.write("A999999,nobody-at-all,email_open,not-a-date,,,\r\n")


def test_every_non_quiet_run_ends_with_one_summary_line_on_stderr(demo: Path, run_cli):
    result = run_cli("sync", "run")
    assert result.exit_code == 0
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("leadsync: run 1 ok: 300 scored, 30 task(s) created, 300 score(s) pushed")


def test_a_quiet_clean_run_prints_nothing(demo: Path, run_cli):
    result = run_cli("sync", "run", "--quiet")
    assert result.exit_code == 0 and result.stdout == "" and result.stderr == ""


def test_dead_letters_under_quiet_still_leave_one_line_naming_the_count_and_the_command(demo: Path, run_cli):
    _add_bad_activity(demo)
    result = run_cli("sync", "run", "--quiet")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "leadsync: run 1 exit 1: 1 record(s) dead-lettered (see `leadsync sync status`) "
        "[300 scored, 30 task(s) created, 300 score(s) pushed]"
    ]


def test_an_output_folder_that_cannot_be_written_is_exit_6_and_reported_under_quiet(demo: Path, run_cli):
    (demo / "out").rmdir()
    (demo / "out").write_text("a file where the output folder should be", encoding="utf-8")
    result = run_cli("sync", "run", "--quiet")
    assert result.exit_code == 6
    line = result.stderr.strip()
    assert "exit 6: 330 write(s) could not be confirmed or were refused for now, retried next run" in line and str(demo / "out") in line
    assert "leadsync sync status" in line
    (demo / "out").unlink()
    (demo / "out").mkdir()
    again = run_cli("sync", "run", "--quiet")
    assert again.exit_code == 0 and again.stderr == ""
    assert (demo / "out/tasks.csv").exists() and (demo / "out/scores.csv").exists()


def test_a_failed_connection_is_named_with_the_command_to_check_it(demo: Path, run_cli):
    (demo / "data/leads.csv").unlink()
    (demo / "data/activities.csv").unlink()
    (demo / "data/opportunities.csv").unlink()
    (demo / "data").rmdir()
    result = run_cli("sync", "run", "--quiet")
    assert result.exit_code in (2, 4)
    assert result.stderr.strip() != ""
    if result.exit_code == 4:
        assert "connection demo failed" in result.stderr and "leadsync connections check demo" in result.stderr


def test_json_is_printed_even_when_the_lock_is_held_exit_3(demo: Path, run_cli):
    run_cli("sync", "run", "--quiet")
    with RunLock(demo / ".leadsync/state.db"):
        result = run_cli("sync", "run", "--json", "--quiet")
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    assert data["exit_status"] == 3 and "another leadsync run holds" in data["error"]
    assert "another leadsync run holds" in result.stderr


def test_run_json_as_of_is_in_the_configured_zone_with_its_offset(demo: Path, run_cli):
    result = run_cli("sync", "run", "--json", "--as-of", "2026-01-05T10:00")
    assert json.loads(result.stdout)["as_of"] == "2026-01-05T10:00:00+09:00"


def test_global_options_are_accepted_after_the_subcommand(demo: Path, run_cli, tmp_path):
    moved = tmp_path / "elsewhere.toml"
    text = (demo / "leadsync.toml").read_text(encoding="utf-8")
    moved.write_text(text.replace('path = "data"', f'path = "{demo / "data"}"')
                     .replace('output = "out"', f'output = "{demo / "out"}"')
                     .replace('sheet = "scoring-sheet.csv"', f'sheet = "{demo / "scoring-sheet.csv"}"')
                     .replace('path = ".leadsync/state.db"', f'path = "{tmp_path / "other.db"}"'), encoding="utf-8")
    result = run_cli("sync", "run", "--config", str(moved), "--log-format", "json", "-v")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "other.db").exists() and not (demo / ".leadsync").exists()
    *logs, last = result.stderr.strip().splitlines()
    assert last.startswith("leadsync: run 1 ok")
    levels = {json.loads(line)["level"] for line in logs}  # JSON lines, debug included (-v)
    assert "debug" in levels
    status = run_cli("sync", "status", "--json", f"--config={moved}")
    assert status.exit_code == 0 and json.loads(status.stdout)["runs"][0]["status"] == "ok"
    assert sqlite3.connect(tmp_path / "other.db").execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1


def test_output_csvs_get_the_umask_mode_not_0600(demo: Path, run_cli):
    import os
    import stat

    old = os.umask(0o022)
    try:
        assert run_cli("sync", "run", "--quiet").exit_code == 0
    finally:
        os.umask(old)
    for name in ("scores.csv", "tasks.csv"):
        assert stat.S_IMODE((demo / "out" / name).stat().st_mode) == 0o644
    assert not [p for p in (demo / "out").iterdir() if p.name.endswith(".tmp")]
    os.umask(0o007)
    try:
        import shutil

        shutil.rmtree(demo / ".leadsync")
        for name in ("scores.csv", "tasks.csv"):
            (demo / "out" / name).unlink()
        assert run_cli("sync", "run", "--quiet").exit_code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((demo / "out/scores.csv").stat().st_mode) == 0o660
