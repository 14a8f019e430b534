"""Retention ([state] keep_days, `leadsync state vacuum`): old bookkeeping goes, what a guarantee needs stays."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from leadsync.core.cli.main import cli
from leadsync.core.state import retention, scores
from leadsync.core.state.store import StateStore

DAY = 86400.0
NOW = 1_800_000_000.0
OLD = NOW - 400 * DAY  # older than any cutoff used below
RECENT = NOW - 3600.0


def _fill(db: sqlite3.Connection) -> None:
    """Rows of every kind retention looks at, old and recent, each named by what must happen to it."""
    history = [  # (lead, at, segment)
        ("no-handoff@x.jp", OLD, "hot"), ("no-handoff@x.jp", OLD + 1, "cold"),   # deleted
        ("handed@x.jp", OLD - 10 * DAY, "warm"),                                  # deleted: before the handoff
        ("handed@x.jp", OLD + 5 * DAY, "cold"),                                   # kept: requalify reads it
        ("recent@x.jp", RECENT, "warm"),                                          # kept: recent
    ]
    for lead, at, segment in history:
        db.execute("INSERT INTO score_history(lead_key, at, total, segment, reason, sheet_version) "
                   "VALUES (?, ?, 1, ?, 'sync', 'v1')", (lead, at, segment))
    db.execute("INSERT INTO handoffs(lead_key, connection, status, score, segment, opened_at, due_at, task_key, "
               "closed_at) VALUES ('handed@x.jp', 'crm', 'expired', 90, 'hot', ?, ?, 'task-closed', ?)",
               (OLD, OLD + DAY, OLD + 30 * DAY))
    db.execute("INSERT INTO handoffs(lead_key, connection, status, score, segment, opened_at, due_at, task_key) "
               "VALUES ('open@x.jp', 'crm', 'open', 90, 'hot', ?, ?, 'task-open')", (OLD, OLD + DAY))
    outbox = [  # (key, kind, status, updated_at, sent_at, sends)
        ("score-done-old", "score", "done", OLD, OLD, 1),            # deleted
        ("score-superseded-old", "score", "superseded", OLD, None, 0),  # deleted
        ("task-closed", "task", "done", OLD, OLD, 1),                 # deleted: its handoff is closed
        ("task-open", "task", "done", OLD, OLD, 1),                   # kept: open handoff
        ("score-pending-old", "score", "pending", OLD, None, 0),     # kept: not yet sent
        ("score-sending-old", "score", "pending", OLD, OLD, 1),      # kept: sent, not acknowledged
        ("task-dead-old", "task", "dead", OLD, OLD, 1),              # kept: a person decides
        ("notice-unconfirmed-old", "notice", "unconfirmed", OLD, OLD, 1),  # kept
        ("task-resent-recent", "task", "done", RECENT, RECENT, 2),   # kept: reconcile window
        ("score-done-recent", "score", "done", RECENT, RECENT, 1),   # kept: recent (and the newest id)
    ]
    for key, kind, status, updated_at, sent_at, sends in outbox:
        db.execute("INSERT INTO outbox(key, connection, kind, lead_key, payload, status, sent_at, sends, created_at, "
                   "updated_at) VALUES (?, 'crm', ?, 'x@x.jp', '{}', ?, ?, ?, ?, ?)",
                   (key, kind, status, sent_at, sends, updated_at, updated_at))
    runs = [(OLD, "ok"), (OLD + 1, "killed"), (OLD + 2, "ok"), (RECENT, "ok")]  # the first three go
    for started, status in runs:
        db.execute("INSERT INTO runs(started_at, finished_at, status, exit_status, summary) VALUES (?, ?, ?, 0, '{}')",
                   (started, started + 60, status))
    dead = [  # (kind, requeued_at)
        ("task", OLD + 1),    # deleted: acknowledged write
        ("task", None),       # kept: nobody looked at it yet
        ("contacts", OLD + 1),  # kept: an acknowledged pulled record stops a re-read from failing again
        ("score", RECENT),    # kept: recent (and the newest id)
    ]
    for kind, requeued in dead:
        db.execute("INSERT INTO dead_letters(connection, kind, record_key, reason, payload, created_at, requeued_at) "
                   "VALUES ('crm', ?, 'k', 'bad', '{}', ?, ?)", (kind, OLD, requeued))
    db.execute("INSERT INTO cursors(connection, stream, value, updated_at) VALUES ('crm', 'contacts', '{}', ?)", (OLD,))
    _fill_orphans(db)


# Leads the orphan completions below may name: one known by its CRM record, one whose key is not its
# e-mail (stored before it had one), one plain.
STORED_LEADS = [  # (key, email, connection, record id)
    ("known-by-record@x.jp", "known-by-record@x.jp", "crm", "00Q1"),
    ("crm:00Q2", "Mixed.Case@X.jp", "crm", "00Q2"),
    ("plain@x.jp", "plain@x.jp", "ma", "m-3"),
]
ORPHANS = [  # (task key, connection, lead key, e-mail, record id, completed at)
    ("ls-20251210-gone", "crm", None, "gone@x.jp", "00Q9", OLD),                   # deleted: old, no such lead
    ("ls-20251210-gonekey", "crm", "crm:00Q8", None, None, OLD),                  # deleted: old, no such lead
    ("ls-20251210-byrecord", "crm", None, None, "00Q1", OLD),                     # kept: its lead is stored
    ("ls-20251210-byrecordotherconn", "ma", None, None, "00Q1", OLD),           # deleted: 00Q1 is crm's record
    ("ls-20251210-byemailcase", "crm", None, "mixed.case@x.jp", None, OLD),      # kept: e-mail, any case
    ("ls-20251210-byleadkey", "crm", "plain@x.jp", None, None, OLD),             # kept: the lead key
    ("ls-20270115-recent", "crm", None, "later@x.jp", None, RECENT),               # kept: the lead may still come
]

WAITING = [  # (connection, source id, lead record id, seen at): activities read before their lead
    ("crm", "call-gone", "00Q7", OLD),          # deleted: old, its lead never came
    ("crm", "call-placeable", "00Q1", OLD),     # kept: its lead is stored, the next run places it
    ("ma", "open-otherconn", "00Q1", OLD),      # deleted: 00Q1 is crm's record
    ("crm", "call-recent", "00Q7", RECENT),     # kept: the lead may still come
]


def _fill_orphans(db: sqlite3.Connection) -> None:
    for key, email, connection, record_id in STORED_LEADS:
        db.execute("INSERT INTO leads(key, email, data, updated_at) VALUES (?, ?, '{}', ?)", (key, email, OLD))
        db.execute("INSERT INTO lead_refs(connection, record_id, lead_key, data) VALUES (?, ?, ?, '{}')",
                   (connection, record_id, key))
    for row in ORPHANS:
        db.execute("INSERT INTO orphan_completions(task_key, connection, lead_key, email, record_id, completed_at) "
                   "VALUES (?, ?, ?, ?, ?, ?)", row)
    for row in WAITING:
        for table in ("waiting_activities", "waiting_opportunities"):  # an opportunity waits as an activity does
            db.execute(f"INSERT INTO {table}(connection, source_id, lead_record_id, stream, data, seen_at) "
                       "VALUES (?, ?, ?, 'activities', '{}', ?)", row)


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    store = StateStore(tmp_path / "state.db")
    with store.transaction() as db:
        _fill(db)
    yield store
    store.close()


def _keys(db: sqlite3.Connection, sql: str) -> set:
    return {tuple(r) if len(r) > 1 else r[0] for r in db.execute(sql)}


def test_prune_deletes_old_rows_and_keeps_what_guarantees_need(store: StateStore) -> None:
    cutoff = NOW - 180 * DAY
    with store.transaction() as db:
        deleted = retention.prune(db, before=cutoff, reconcile_since=NOW - DAY)
    assert deleted.as_dict() == {"score_history": 3, "runs": 3, "outbox": 3, "dead_letters": 1, "orphan_completions": 3,
                                 "waiting_activities": 2, "waiting_opportunities": 2}
    db = store.db
    assert _keys(db, "SELECT lead_key, segment FROM score_history") == {("handed@x.jp", "cold"), ("recent@x.jp", "warm")}
    assert _keys(db, "SELECT key FROM outbox") == {
        "task-open", "score-pending-old", "score-sending-old", "task-dead-old", "notice-unconfirmed-old",
        "task-resent-recent", "score-done-recent"}
    assert _keys(db, "SELECT status FROM runs") == {"ok"} and db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1
    assert _keys(db, "SELECT kind, requeued_at IS NULL FROM dead_letters") == {
        ("task", 1), ("contacts", 0), ("score", 0)}
    assert db.execute("SELECT COUNT(*) FROM handoffs").fetchone()[0] == 2
    assert db.execute("SELECT COUNT(*) FROM cursors").fetchone()[0] == 1
    assert _keys(db, "SELECT task_key FROM orphan_completions") == {
        "ls-20251210-byrecord", "ls-20251210-byemailcase", "ls-20251210-byleadkey", "ls-20270115-recent"}
    assert _keys(db, "SELECT source_id FROM waiting_activities") == {"call-placeable", "call-recent"}
    assert _keys(db, "SELECT source_id FROM waiting_opportunities") == {"call-placeable", "call-recent"}
    # The handed-off lead still requalifies: its cold row after the handoff survived.
    assert scores.requalified(db, "handed@x.jp", OLD, NOW, ["cold", "warm"])
    # A second prune finds nothing more.
    with store.transaction() as db:
        assert retention.prune(db, before=cutoff, reconcile_since=NOW - DAY).total == 0


def test_prune_keeps_task_creates_inside_the_reconcile_window_whatever_the_cutoff(store: StateStore) -> None:
    with store.transaction() as db:
        retention.prune(db, before=NOW, reconcile_since=NOW - DAY)
    kept = _keys(store.db, "SELECT key FROM outbox")
    assert "task-resent-recent" in kept
    assert "score-done-recent" in kept  # the newest id stays, so outbox ids never repeat


def test_prune_keeps_the_newest_rows_so_ids_are_never_reused(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db")
    with store.transaction() as db:
        for i in range(3):
            db.execute("INSERT INTO runs(started_at, finished_at, status) VALUES (?, ?, 'ok')", (OLD + i, OLD + i))
            db.execute("INSERT INTO score_history(lead_key, at, total, segment, reason, sheet_version) "
                       "VALUES ('a', ?, 1, 'cold', 'sync', 'v1')", (OLD + i,))
        retention.prune(db, before=NOW, reconcile_since=NOW)
    assert tuple(store.db.execute("SELECT MAX(id), COUNT(*) FROM runs").fetchone()) == (3, 1)
    assert tuple(store.db.execute("SELECT MAX(id), COUNT(*) FROM score_history").fetchone()) == (3, 1)
    with store.transaction() as db:
        new_id = db.execute("INSERT INTO runs(started_at, status) VALUES (?, 'running')", (NOW,)).lastrowid
    assert new_id == 4
    store.close()


def _project(tmp_path: Path, keep_days: int | None, backend=None) -> Path:
    """A project whose store holds `_fill`'s rows: a file beside it, or a PostgreSQL schema."""
    project = backend.project("vac") if backend is not None and backend.is_postgres else "p"
    state_lines = backend.toml(project).splitlines() if backend is not None and backend.is_postgres else [
        "[state]", f'path = "{tmp_path / "state.db"}"']
    lines = state_lines + ([f"keep_days = {keep_days}"] if keep_days is not None else [])
    (tmp_path / "leadsync.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    store = backend.open(project) if backend is not None and backend.is_postgres else StateStore(tmp_path / "state.db")
    with store.transaction() as db:
        _fill(db)
    store.close()
    return tmp_path / "leadsync.toml"


@pytest.mark.parametrize("state_backend", ["sqlite", "postgresql"], indirect=True)
def test_vacuum_command_deletes_and_compacts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, state_backend) -> None:
    monkeypatch.setenv("LEADSYNC_LOAD_PLUGINS", "")
    config = _project(tmp_path, None, state_backend)  # the default keep_days, 180
    result = CliRunner().invoke(cli, ["--config", str(config), "state", "vacuum", "--json",
                                      "--as-of", "2027-01-15T08:00:00+00:00"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["keep_days"] == 180 and out["compacted"] is True
    assert out["deleted"] == {"score_history": 3, "runs": 3, "outbox": 3, "dead_letters": 1, "orphan_completions": 3,
                                 "waiting_activities": 2, "waiting_opportunities": 2}
    assert out["deleted_total"] == 17
    assert out["remaining"]["outbox"] == 7 and out["remaining"]["handoffs"] == 2
    assert out["remaining"]["orphan_completions"] == 4 and out["remaining"]["waiting_activities"] == 2
    assert out["remaining"]["waiting_opportunities"] == 2
    assert 0 < out["bytes_after"]
    if not state_backend.is_postgres:  # PostgreSQL's VACUUM makes the space reusable, it does not shrink files
        assert out["bytes_after"] <= out["bytes_before"]


def test_vacuum_with_keep_days_zero_deletes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADSYNC_LOAD_PLUGINS", "")
    config = _project(tmp_path, 0)
    result = CliRunner().invoke(cli, ["--config", str(config), "state", "vacuum", "--json", "--no-compact"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["deleted_total"] == 0 and out["remaining"]["score_history"] == 5 and out["remaining"]["runs"] == 4


def test_vacuum_waits_for_no_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from leadsync.core.sync.lock import RunLock

    monkeypatch.setenv("LEADSYNC_LOAD_PLUGINS", "")
    config = _project(tmp_path, 30)
    with RunLock(tmp_path / "state.db"):
        result = CliRunner().invoke(cli, ["--config", str(config), "state", "vacuum"])
    assert result.exit_code == 3
    store = StateStore(tmp_path / "state.db")
    assert store.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 4  # nothing deleted
    store.close()


def test_negative_keep_days_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADSYNC_LOAD_PLUGINS", "")
    config = _project(tmp_path, -1)
    result = CliRunner().invoke(cli, ["--config", str(config), "state", "vacuum"])
    assert result.exit_code == 2
    assert "keep_days" in result.output


def _orphan(db, key: str, completed_at: float, email: str = "nobody@x.jp") -> None:
    db.execute("INSERT INTO orphan_completions(task_key, connection, lead_key, email, record_id, completed_at) "
               "VALUES (?, 'crm', NULL, ?, NULL, ?)", (key, email, completed_at))


def test_orphans_are_pruned_on_both_backends_and_the_kept_ones_are_what_the_next_run_rebuilds(new_store) -> None:
    from leadsync.core.handoff.episodes import rebuild_orphans

    store = new_store()
    with store.transaction() as db:
        _fill_orphans(db)
        deleted = retention.prune(db, before=NOW - 180 * DAY, reconcile_since=NOW - DAY, cooldown_since=NOW - 30 * DAY)
    assert deleted.orphan_completions == 3
    with store.transaction() as db:
        rebuilt = rebuild_orphans(db)
    assert sorted(rebuilt) == ["ls-20251210-byemailcase", "ls-20251210-byleadkey", "ls-20251210-byrecord"]
    assert _keys(store.db, "SELECT lead_key FROM handoffs WHERE status = 'completed'") == {
        "known-by-record@x.jp", "crm:00Q2", "plain@x.jp"}
    assert _keys(store.db, "SELECT task_key FROM orphan_completions") == {"ls-20270115-recent"}


def test_an_orphan_inside_the_cooldown_stays_whatever_keep_days_says(new_store) -> None:
    """keep_days shorter than the cooldown: a completion 10 days old could still hold its lead back
    for 20 more days if the lead arrived, so it stays; one 40 days old goes."""
    store = new_store()
    with store.transaction() as db:
        _orphan(db, "ls-20270105-incooldown", NOW - 10 * DAY)
        _orphan(db, "ls-20261206-pastcooldown", NOW - 40 * DAY)
        deleted = retention.prune(db, before=NOW - 7 * DAY, reconcile_since=NOW - DAY, cooldown_since=NOW - 30 * DAY)
    assert deleted.orphan_completions == 1
    assert _keys(store.db, "SELECT task_key FROM orphan_completions") == {"ls-20270105-incooldown"}
    with store.transaction() as db:  # a cooldown of 0 days holds nothing back: the cutoff alone decides
        assert retention.prune(db, before=NOW - 7 * DAY, reconcile_since=NOW - DAY,
                               cooldown_since=NOW).orphan_completions == 1
    assert _keys(store.db, "SELECT task_key FROM orphan_completions") == set()


@pytest.mark.parametrize("state_backend", ["sqlite", "postgresql"], indirect=True)
def test_vacuum_keeps_orphans_inside_the_configured_cooldown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              state_backend) -> None:
    monkeypatch.setenv("LEADSYNC_LOAD_PLUGINS", "")
    config = _project(tmp_path, 7, state_backend)
    config.write_text(config.read_text(encoding="utf-8") + "[handoff]\ncooldown_days = 45\n", encoding="utf-8")
    project = state_backend.projects[-1] if state_backend.is_postgres else None
    store = state_backend.open(project) if project else StateStore(tmp_path / "state.db")
    with store.transaction() as db:
        _orphan(db, "ls-20261206-inside45days", NOW - 40 * DAY)
        _orphan(db, "ls-20261126-past45days", NOW - 50 * DAY)
    store.close()
    result = CliRunner().invoke(cli, ["--config", str(config), "state", "vacuum", "--json", "--no-compact",
                                      "--as-of", "2027-01-15T08:00:00+00:00"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    # the three old orphans of no stored lead, and the one past the 45-day cooldown
    assert out["deleted"]["orphan_completions"] == 4
    store = state_backend.open(project) if project else StateStore(tmp_path / "state.db")
    try:
        kept = _keys(store.db, "SELECT task_key FROM orphan_completions")
    finally:
        store.close()
    assert kept == {"ls-20251210-byrecord", "ls-20251210-byemailcase", "ls-20251210-byleadkey",
                    "ls-20270115-recent", "ls-20261206-inside45days"}


@pytest.mark.parametrize("state_backend", ["postgresql"], indirect=True)
def test_postgresql_compact_vacuums_the_table_of_leads_to_rescore(state_backend) -> None:
    """Every run inserts and deletes the rows of `dirty_leads` (the churn the lead rows' flag had):
    `state vacuum` makes that space reusable as it does for the leads."""
    from leadsync.core.models import Lead
    from leadsync.core.state import leads

    store = state_backend.open(state_backend.project())
    try:
        with store.transaction() as db:
            for i in range(50):
                leads.put(db, Lead(key=f"k{i}@x.jp", email=f"k{i}@x.jp"))
            leads.clear_dirty(db)
        retention.compact(store.db, "postgresql")
        store.db.execute("SELECT pg_stat_clear_snapshot()")
        vacuums = dict(store.db.execute("SELECT relname, vacuum_count FROM pg_stat_user_tables "
                                        "WHERE schemaname = current_schema()").fetchall())
        assert vacuums["leads"] == 1 and vacuums["dirty_leads"] == 1
    finally:
        store.close()
