"""`leadsync state forget`: a preview by default, `--yes` deletes, the person's lead is gone from
every report afterwards, and it waits for no run (exit 3 while one holds the lock)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path


def _hot_lead(demo: Path) -> tuple[str, int]:
    with sqlite3.connect(demo / ".leadsync" / "state.db") as db:
        email, = db.execute("SELECT l.email FROM scores s JOIN leads l ON l.key = s.lead_key "
                            "JOIN handoffs h ON h.lead_key = s.lead_key ORDER BY s.total DESC, l.email LIMIT 1").fetchone()
        leads = db.execute("SELECT COUNT(*) FROM leads").fetchone()[0]
    return email, leads


def test_forget_previews_then_deletes_a_person_everywhere(demo: Path, run_cli):
    assert run_cli("sync", "run", "--quiet").exit_code == 0
    email, leads = _hot_lead(demo)

    preview = run_cli("state", "forget", email.upper(), "--json")
    assert preview.exit_code == 0, preview.stderr
    out = json.loads(preview.stdout)
    assert out["deleted"] is False and out["emails"] == [email]
    assert out["rows"]["leads"] == 1 and out["rows"]["handoffs"] == 1 and out["rows"]["activities"] > 0
    assert _hot_lead(demo) == (email, leads), "a preview deletes nothing"

    done = run_cli("state", "forget", email, "--yes")
    assert done.exit_code == 0, done.stderr
    assert done.stdout.startswith(f"Deleted {out['rows_total']:,} rows about 1 person(s).")
    with sqlite3.connect(demo / ".leadsync" / "state.db") as db:
        assert db.execute("SELECT COUNT(*) FROM leads").fetchone()[0] == leads - 1
        for table in ("activities", "scores", "score_history", "handoffs", "lead_refs"):
            assert db.execute(f"SELECT COUNT(*) FROM {table} WHERE lead_key = ?", (email,)).fetchone()[0] == 0, table
    status = run_cli("handoff", "status", "--format", "json")
    assert status.exit_code == 0 and email not in status.stdout


def test_forget_waits_for_no_run(demo: Path, run_cli):
    from leadsync.core.sync.lock import RunLock

    assert run_cli("sync", "run", "--quiet").exit_code == 0
    email, leads = _hot_lead(demo)
    with RunLock(demo / ".leadsync" / "state.db"):
        assert run_cli("state", "forget", email, "--yes").exit_code == 3
    assert _hot_lead(demo) == (email, leads)
