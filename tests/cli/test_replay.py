"""`--as-of` is a replay once state exists: later episodes, handoffs and scores are ignored (issue 14: 4)."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo


def _plans(run_cli, *args: str) -> list[tuple[str, int, str, str]]:
    result = run_cli("handoff", "preview", "--format", "json", *args)
    assert result.exit_code == 0, result.stderr
    return [(p["email"], p["score"], p["action"], p["due_at"]) for p in json.loads(result.stdout)]


def _two_months_before_the_newest_activity(demo: Path) -> str:
    with open(demo / "data/activities.csv", encoding="utf-8-sig") as handle:
        newest = max(line.split(",")[3] for line in handle.readlines()[1:])
    moment = datetime.fromisoformat(newest).astimezone(ZoneInfo("Asia/Tokyo")) - timedelta(days=61)
    return moment.replace(hour=10, minute=0, second=0, microsecond=0, tzinfo=None).isoformat()


def test_preview_two_months_earlier_after_a_run_equals_the_preview_on_a_fresh_store(demo: Path, run_cli):
    as_of = _two_months_before_the_newest_activity(demo)
    fresh = _plans(run_cli, "--as-of", as_of)
    assert fresh and all(action == "create_task" for _, _, action, _ in fresh)
    assert run_cli("sync", "run", "--quiet").exit_code == 0
    db = sqlite3.connect(demo / ".leadsync/state.db")
    assert db.execute("SELECT COUNT(*) FROM handoffs WHERE status = 'open'").fetchone()[0] == 30
    before = db.execute("SELECT COUNT(*), SUM(total) FROM scores").fetchone()
    assert _plans(run_cli, "--as-of", as_of) == fresh
    assert _plans(run_cli, "--no-pull", "--as-of", as_of) == fresh
    for _, _, _, due in fresh:  # due one business day after the replayed moment, not after the run
        assert due < (datetime.fromisoformat(as_of) + timedelta(days=5)).isoformat()
    # the replay happened on a copy: the real store still has the run's handoffs and scores
    assert db.execute("SELECT COUNT(*) FROM handoffs WHERE status = 'open'").fetchone()[0] == 30
    assert db.execute("SELECT COUNT(*), SUM(total) FROM scores").fetchone() == before


def test_preview_now_after_a_run_still_sees_the_open_handoffs(demo: Path, run_cli):
    assert run_cli("sync", "run", "--quiet").exit_code == 0
    actions = {action for _, _, action, _ in _plans(run_cli, "--no-pull")}
    assert "open_handoff" in actions and "create_task" not in actions


def test_rewind_refuses_the_state_file(demo: Path, run_cli):
    import pytest

    from leadsync.core.state.rewind import rewind
    from leadsync.core.state.store import StateStore

    assert run_cli("sync", "run", "--quiet").exit_code == 0
    store = StateStore(demo / ".leadsync/state.db")
    try:
        with pytest.raises(ValueError, match="in-memory copy only"):
            rewind(store, datetime(2020, 1, 1, tzinfo=ZoneInfo("UTC")))
    finally:
        store.close()
