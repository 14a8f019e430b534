"""A replay's copy forgets deals and waiting records that came after its moment, as it forgets
activities: a deal created later is gone, one closed later is open again."""

from __future__ import annotations

from datetime import datetime, timezone

from leadsync.core.models import Opportunity, OpportunityStatus
from leadsync.core.state import opportunities, waiting
from leadsync.core.state.rewind import rewind
from leadsync.core.state.store import StateStore


def _at(day: int) -> datetime:
    return datetime(2026, 10, day, tzinfo=timezone.utc)


def test_rewind_forgets_later_deals_reopens_later_closes_and_drops_later_waits():
    store = StateStore(":memory:")
    with store.transaction() as db:
        for source_id, created, closed in (("early", 1, None), ("won-later", 1, 20), ("created-later", 20, None)):
            opportunities.store_opportunity(db, "crm", Opportunity(
                source_id=source_id, email="a@x.jp", created_at=_at(created),
                status=OpportunityStatus.WON if closed else OpportunityStatus.OPEN,
                closed_at=_at(closed) if closed else None))
        waiting.keep(db, [("crm", f"w{day}", "C9", "activities", "{}", _at(day).timestamp(), None) for day in (2, 20)])
        waiting.keep(db, [("crm", "d20", "C9", "deals", "{}", _at(20).timestamp(), None)], "opportunity")

    rewind(store, _at(10))
    rows = store.db.execute("SELECT source_id, status, closed_at FROM opportunities ORDER BY 1").fetchall()
    assert [tuple(r) for r in rows] == [("early", "open", None), ("won-later", "open", None)]
    assert [r[0] for r in store.db.execute("SELECT source_id FROM waiting_activities")] == ["w2"]
    assert waiting.count(store.db, "opportunity") == 0
