"""scores.write on stored scores: a row whose next_change_at stays is updated without touching its
`scores_next_change` entry, one whose moment moves is rewritten whole; both read back as written
and the leads due by a moment are exactly those whose stored moment has come (both backends)."""

from __future__ import annotations

from leadsync.core.models import Lead
from leadsync.core.state import leads, scores

KEYS = ["keep@x.jp", "move@x.jp", "none@x.jp", "new@x.jp"]


def _row(key: str, total: int, next_change: float | None, at: float) -> tuple:
    return (key, total, total + 100, total + 200, f"seg{total}", f"v{total}", at, next_change,
            f'[{{"rule":"r{total}"}}]', "sync")


def test_write_keeps_or_moves_each_leads_next_change(new_store) -> None:
    store = new_store()
    with store.transaction() as db:
        for key in KEYS:
            leads.put(db, Lead(key=key, email=key), dirty=False)
        scores.write(db, [_row("keep@x.jp", 10, 500.0, 1.0), _row("move@x.jp", 20, 600.0, 1.0),
                          _row("none@x.jp", 30, None, 1.0)])
    with store.transaction() as db:
        changed, _ = scores.write(db, [_row("keep@x.jp", 11, 500.0, 2.0), _row("move@x.jp", 20, 300.0, 2.0),
                                       _row("none@x.jp", 30, None, 2.0), _row("new@x.jp", 5, 550.0, 2.0)])
    assert sorted(changed) == ["keep@x.jp", "new@x.jp"]
    stored = {r[0]: tuple(r) for r in store.db.execute(
        "SELECT lead_key, total, behavior, attribute, segment, sheet_version, scored_at, next_change_at, breakdown "
        "FROM scores")}
    assert stored == {row[0]: row[:9] for row in [_row("keep@x.jp", 11, 500.0, 2.0), _row("move@x.jp", 20, 300.0, 2.0),
                                                  _row("none@x.jp", 30, None, 2.0), _row("new@x.jp", 5, 550.0, 2.0)]}
    assert sorted(scores.rescore_targets(store.db, 299.0)) == []
    assert sorted(scores.rescore_targets(store.db, 500.0)) == ["keep@x.jp", "move@x.jp"]
    assert sorted(scores.rescore_targets(store.db, 1e9)) == ["keep@x.jp", "move@x.jp", "new@x.jp"]
