"""Replay: bring a copy of the state store back to what it knew at an earlier moment (`--as-of`).

Everything with a timestamp after the moment is taken out of the copy: handoffs opened later are
removed, handoffs closed or first touched later are open and untouched again, scores and score
history recorded later are dropped (those leads are rescored at the moment), activities that occurred
later, opportunities created later (those closed later are open again), records first kept
waiting for their lead later, and the outbox, pushed scores, dead letters and runs of later runs. Leads and their fields
(status, owner, company) stay as last pulled, as a dry run on a fresh store would see them: the
store keeps no history of them. Only ever call this on a copy (`StateStore.snapshot()`).
"""

from __future__ import annotations

from datetime import datetime

from leadsync.core.state import leads
from leadsync.core.state.store import StateStore

__all__ = ["rewind"]


def rewind(store: StateStore, moment: datetime) -> int:
    """Forget, in `store` (a copy), everything recorded after `moment`; return how many leads need rescoring."""
    if store.path is not None:
        raise ValueError("rewind() works on an in-memory copy only, never on the state file")
    t = moment.timestamp()
    with store.transaction() as db:
        db.execute("DELETE FROM handoffs WHERE opened_at > ?", (t,))
        db.execute("UPDATE handoffs SET status = 'open', closed_at = NULL, close_reason = NULL "
                   "WHERE closed_at > ?", (t,))
        db.execute("UPDATE handoffs SET first_touch_at = NULL WHERE first_touch_at > ?", (t,))
        db.execute("UPDATE handoffs SET overdue_notified = 0 WHERE due_at > ?", (t,))
        dirty = [r[0] for r in db.execute(
            "SELECT key FROM leads WHERE key IN (SELECT lead_key FROM scores WHERE scored_at > ?) "
            "OR key IN (SELECT lead_key FROM activities WHERE occurred_at > ?)", (t, t))]
        leads.mark_dirty_many(db, dirty)
        db.execute("DELETE FROM activities WHERE occurred_at > ?", (t,))
        db.execute("DELETE FROM opportunities WHERE created_at > ?", (t,))
        db.execute("UPDATE opportunities SET status = 'open', closed_at = NULL WHERE closed_at > ?", (t,))
        db.execute("DELETE FROM waiting_activities WHERE seen_at > ?", (t,))
        db.execute("DELETE FROM waiting_opportunities WHERE seen_at > ?", (t,))
        db.execute("DELETE FROM score_history WHERE at > ?", (t,))
        db.execute("DELETE FROM scores WHERE scored_at > ?", (t,))
        db.execute("DELETE FROM pushed_scores WHERE pushed_at > ?", (t,))
        db.execute("DELETE FROM outbox WHERE created_at > ?", (t,))
        db.execute("DELETE FROM dead_letters WHERE created_at > ?", (t,))
        db.execute("DELETE FROM runs WHERE started_at > ?", (t,))
    return len(dirty)
