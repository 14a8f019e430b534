"""A page is stored with a few statements, and ends exactly as storing its records one at a time would."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from leadsync.core.models import Activity, ActivityType, Lead
from leadsync.core.state import store as store_module
from leadsync.core.state.store import StateStore
from leadsync.core.sync import identity
from leadsync.core.sync.identity import ingest

T0 = datetime(2026, 4, 1, tzinfo=timezone.utc)
TABLES = {
    "leads": "SELECT key, email, data, key IN (SELECT key FROM dirty_leads) FROM leads ORDER BY rowid",
    "lead_refs": "SELECT connection, record_id, lead_key, data FROM lead_refs ORDER BY connection, record_id",
    "activities": "SELECT connection, source_id, lead_key, type, occurred_at, data FROM activities ORDER BY rowid",
    "conflicts": "SELECT lead_key, field, vals FROM quality_conflicts ORDER BY lead_key, field",
    "dead_letters": "SELECT connection, kind, record_key, reason FROM dead_letters ORDER BY id",
    "waiting": "SELECT connection, source_id, lead_record_id, stream, data, run_id FROM waiting_activities "
               "ORDER BY connection, source_id",
}


def _lead(rng: random.Random, conn: str, n: int) -> Lead:
    record = f"r{rng.randrange(n)}"
    email = rng.choice([f"p{rng.randrange(n)}@x.jp", f"P{rng.randrange(n)}@X.JP ", None])
    company = rng.choice(["Acme", "ＡＣＭＥ", "Other Co", None])
    return Lead(key=email or f"{conn}:{record}", email=email, refs={conn: record}, company=company,
                title=rng.choice(["CEO", "部長", None]), updated_at=T0 + timedelta(minutes=rng.randrange(5)))


def _activity(rng: random.Random, n: int) -> Activity:
    return Activity(source_id=f"a{rng.randrange(3 * n)}", email=rng.choice([f"p{rng.randrange(n)}@x.jp", None]),
                    lead_record_id=rng.choice([f"r{rng.randrange(n)}", "nobody", None]),
                    type=rng.choice([ActivityType.CALL, ActivityType.MEETING]),
                    occurred_at=T0 + timedelta(hours=rng.randrange(100)), outcome=rng.choice(["connected", None]))


def _pages(seed: int) -> list[tuple[str, list]]:
    rng = random.Random(seed)
    pages = []
    for _ in range(30):
        conn = rng.choice(["crm", "ma"])
        n = rng.choice([5, 300, 300])  # few people: repeats and moves within a page; many: the bulk path
        records = [_lead(rng, conn, n) if rng.random() < 0.6 else _activity(rng, n) for _ in range(rng.randrange(1, 60))]
        pages.append((conn, records))
    return pages


def _dump(store: StateStore) -> dict[str, list[tuple]]:
    return {name: [tuple(r) for r in store.db.execute(sql).fetchall()] for name, sql in TABLES.items()}


def _per_record_leads(db, connection, run, crm_connections):  # the per-record path, as before the bulk one
    return sum(identity._store_lead(db, connection, lead, crm_connections) for lead in run)


def _per_record_activities(db, connection, run, *, stream, run_id, counts):
    for activity in run:
        outcome = identity._store_activity(db, connection, activity, stream, run_id)
        identity._count_activity(db, connection, activity, outcome, stream, run_id, counts)


def _store(pages: list[tuple[str, list]], *, one_by_one: bool) -> tuple[dict[str, list[tuple]], list[tuple]]:
    if one_by_one:
        bulk = identity._store_leads, identity._store_activities
        identity._store_leads, identity._store_activities = _per_record_leads, _per_record_activities
        try:
            return _store(pages, one_by_one=False)
        finally:
            identity._store_leads, identity._store_activities = bulk
    store = StateStore(":memory:")
    counts = []
    for conn, records in pages:
        with store.transaction() as db:
            c = ingest(db, conn, records, stream="leads", crm_connections={"crm"}, run_id=1)
        counts.append((c.leads, c.changed_leads, c.new_activities, c.rejected, c.waiting))
    dump = _dump(store)
    store.close()
    return dump, counts


def test_a_page_stored_at_once_ends_as_its_records_stored_one_by_one():
    for seed in range(12):
        pages = _pages(seed)
        assert _store(pages, one_by_one=False) == _store(pages, one_by_one=True), f"seed {seed}"


def _statements(store: StateStore, records: list, conn: str = "crm") -> int:
    """Calls of execute or executemany (an executemany of a page's rows is one) that one page costs."""
    with store.transaction() as db:
        before = _calls[0]
        ingest(db, conn, records, stream="leads", crm_connections={"crm"}, run_id=1)
        return _calls[0] - before


_calls = [0]


def test_a_page_of_new_leads_and_activities_costs_a_few_statements_not_a_few_per_record(monkeypatch):
    for name in ("execute", "executemany"):
        original = getattr(store_module._Cursor, name)

        def counted(self, *args, _original=original, **kwargs):
            _calls[0] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(store_module._Cursor, name, counted)
    store = StateStore(":memory:")
    leads = [Lead(key=f"l{i}@x.jp", email=f"l{i}@x.jp", refs={"crm": f"c{i}"}, company="Acme") for i in range(100)]
    # views, existing views, shared keys, merged leads, conflicts, saves, their marks for rescoring
    assert _statements(store, leads) <= 7
    again = [lead.model_copy(update={"title": "CEO"}) for lead in leads]
    assert _statements(store, again) <= 7
    assert _statements(store, again) == 1  # a re-read: one lookup, nothing written
    calls = [Activity(source_id=f"call:{i}", lead_record_id=f"c{i}", type=ActivityType.CALL, occurred_at=T0)
             for i in range(100)]
    assert _statements(store, calls) <= 5  # known leads, stored activities, any waiting copy, saves, dirty marks
    assert store.db.execute("SELECT count(*) FROM activities").fetchone()[0] == 100
    assert store.db.execute("SELECT count(*) FROM dirty_leads").fetchone()[0] == 100
    store.close()


def test_records_of_one_person_in_one_page_still_merge():
    store = StateStore(":memory:")
    with store.transaction() as db:
        ingest(db, "ma", [Lead(key="a@x.jp", email="a@x.jp", refs={"ma": "m1"}, company="Acme", title="CTO")],
               stream="leads", crm_connections={"crm"}, run_id=1)
    with store.transaction() as db:
        counts = ingest(db, "crm", [Lead(key="a@x.jp", email="a@x.jp", refs={"crm": "c1"}, company="Other", owner="rep"),
                                    Lead(key="b@x.jp", email="b@x.jp", refs={"crm": "c2"})],
                        stream="leads", crm_connections={"crm"}, run_id=1)
    assert counts.changed_leads == 2
    merged = store.db.execute("SELECT data FROM leads WHERE key = 'a@x.jp'").fetchone()[0]
    assert '"owner":"rep"' in merged and '"title":"CTO"' in merged
    assert [tuple(r) for r in store.db.execute("SELECT field FROM quality_conflicts WHERE lead_key = 'a@x.jp'")] == [
        ("company",)]
    store.close()
