"""An opportunity (a deal) answered before its lead waits for it as an activity does: placed under
the lead once it is stored, a dead letter only once the reads that would have brought the lead
are done; never filed under a guessed key nor dead-lettered at once."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from leadsync.core.models import Opportunity, OpportunityStatus
from leadsync.core.state import waiting

from .crm_waits import after_pull, ingest, lead

T0 = datetime(2026, 10, 1, tzinfo=timezone.utc)


def _deal(source_id: str, record_id: str, *, guessed: str = "", **kw) -> Opportunity:
    return Opportunity(source_id=source_id, lead_record_id=record_id, lead_key=guessed, created_at=T0, **kw)





def _stored(store) -> dict[str, tuple[str, str]]:
    return {r[0]: (r[1], r[2]) for r in store.db.execute("SELECT source_id, lead_key, status FROM opportunities")}


def _dead(store) -> list[tuple]:
    return [tuple(r) for r in store.db.execute("SELECT kind, record_key, reason FROM dead_letters")]


def test_a_deal_before_its_lead_waits_then_goes_under_the_lead(new_store):
    store = new_store()
    ingest(store, [lead("C1", "known@x.jp")], stream="leads")
    # The file connector guesses `crm:C9` for a lead without e-mail; the lead comes with one.
    counts = ingest(store, [_deal("d9", "C9", guessed="crm:C9"), _deal("d1", "C1")], stream="opportunities")
    assert (counts.waiting, counts.rejected) == (1, 0)
    assert _stored(store) == {"d1": ("known@x.jp", "open")} and _dead(store) == []
    assert waiting.count(store.db, "opportunity") == 1 and waiting.count(store.db) == 0
    assert after_pull(store, 1) == (0, 0), "kept by this run: it waits"

    ingest(store, [lead("C9", "late@x.jp")], stream="leads", run_id=2)
    assert after_pull(store, 2) == (1, 0)
    assert _stored(store)["d9"] == ("late@x.jp", "open"), "under the lead, not the guessed key"
    assert waiting.count(store.db, "opportunity") == 0


def test_a_waiting_deal_read_again_after_its_lead_keeps_the_newer_read(new_store):
    store = new_store()
    ingest(store, [_deal("d9", "C9")], stream="opportunities", run_id=1)
    ingest(store, [lead("C9", "late@x.jp")], stream="leads", run_id=2)
    ingest(store, [_deal("d9", "C9", status=OpportunityStatus.WON, closed_at=T0)], stream="opportunities", run_id=2)
    assert after_pull(store, 2) == (0, 0), "the later read placed it: the waiting copy is gone"
    assert _stored(store) == {"d9": ("late@x.jp", "won")}
    assert waiting.count(store.db, "opportunity") == 0


def test_a_deal_whose_lead_never_comes_is_a_dead_letter_once_the_reads_that_would_have_brought_it_are_done(new_store):
    store = new_store()
    ingest(store, [_deal("d9", "C9")], stream="opportunities", run_id=1)
    kept = store.db.execute("SELECT seen_at FROM waiting_opportunities").fetchone()[0]
    assert after_pull(store, 1, kept_before=time.time() + 3600) == (0, 0), "kept by this run: it waits"
    assert after_pull(store, 2, kept_before=kept) == (0, 0), "kept after the previous run's start less the look-back"
    assert after_pull(store, 2, kept_before=kept + 1) == (0, 1)
    assert _dead(store) == [("opportunities", "d9", "opportunity d9: no lead with record id 'C9' in crm, "
                                                    "though the reads since it came would have brought it")]
    assert waiting.count(store.db, "opportunity") == 0 and _stored(store) == {}


def test_a_deal_with_an_email_or_a_stored_lead_never_waits(new_store):
    store = new_store()
    ingest(store, [lead("C1", "known@x.jp")], stream="leads")
    counts = ingest(store, [_deal("d1", "C1"), _deal("d2", "C7", email="Other@X.jp")], stream="opportunities")
    assert counts.waiting == 0
    assert _stored(store) == {"d1": ("known@x.jp", "open"), "d2": ("other@x.jp", "open")}


def test_a_waiting_deal_moved_to_another_contact_waits_for_that_one_from_the_read_that_named_it(new_store):
    """The expiry rests on when the record naming its lead was kept: a lead that lags was modified
    before that. A deal moved, while it waits, to a contact created just now must not be
    dead-lettered by the clock of the read that named the old contact."""
    store = new_store()
    ingest(store, [_deal("d9", "C9")], stream="opportunities", run_id=1)
    with store.transaction() as db:  # kept long ago, by run 1
        db.execute("UPDATE waiting_opportunities SET seen_at = seen_at - 86400")
    moved = time.time()
    ingest(store, [_deal("d9", "C8")], stream="opportunities", run_id=5)  # the vendor moved it to a new contact
    assert after_pull(store, 5, kept_before=moved - 60) == (0, 0), "C8's read is newer than the look-back: it waits"
    assert waiting.count(store.db, "opportunity") == 1 and _dead(store) == []
    ingest(store, [lead("C8", "new@x.jp")], stream="leads", run_id=6)
    assert after_pull(store, 6) == (1, 0)
    assert _stored(store) == {"d9": ("new@x.jp", "open")}


def test_a_waiting_deal_read_again_for_the_same_contact_keeps_when_it_was_first_kept(new_store):
    """A look-back re-read of the same deal does not restart its wait (else it would never expire)."""
    store = new_store()
    ingest(store, [_deal("d9", "C9")], stream="opportunities", run_id=1)
    kept = store.db.execute("SELECT seen_at FROM waiting_opportunities").fetchone()[0]
    ingest(store, [_deal("d9", "C9", amount=5.0)], stream="opportunities", run_id=2)
    assert tuple(store.db.execute("SELECT seen_at, run_id FROM waiting_opportunities").fetchone()) == (kept, 1)
    assert after_pull(store, 3, kept_before=kept + 1) == (0, 1)


def test_a_stored_deal_moved_to_a_contact_not_stored_yet_no_longer_counts_for_the_old_one(new_store):
    store = new_store()
    ingest(store, [lead("C1", "old@x.jp")], stream="leads")
    ingest(store, [_deal("d1", "C1")], stream="opportunities")
    assert _stored(store) == {"d1": ("old@x.jp", "open")}
    counts = ingest(store, [_deal("d1", "C9", status=OpportunityStatus.WON, closed_at=T0)], stream="opportunities",
                    run_id=2)
    assert counts.waiting == 1 and _stored(store) == {}, "the vendor's latest word: not old@x.jp's any more"
    ingest(store, [lead("C9", "new@x.jp")], stream="leads", run_id=3)
    assert after_pull(store, 3) == (1, 0)
    assert _stored(store) == {"d1": ("new@x.jp", "won")}
