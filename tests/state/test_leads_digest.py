"""state.leads.digest: the same leads give the same digest, any change of a stored lead another."""

from __future__ import annotations

from leadsync.core.models import Lead
from leadsync.core.state import leads
from leadsync.core.state.store import StateStore
from leadsync.core.sync.identity import ingest


def _store(tmp_path, name, records):
    store = StateStore(tmp_path / f"{name}.db")
    with store.transaction() as db:
        ingest(db, "crm", records, stream="leads", crm_connections={"crm"}, run_id=None)
    return store


def test_equal_stores_equal_digests_and_a_change_shows(tmp_path):
    records = [Lead(key=f"l{i}@x.jp", email=f"l{i}@x.jp", refs={"crm": str(i)}, company="株式会社サンプル") for i in range(30)]
    first, second = _store(tmp_path, "a", records), _store(tmp_path, "b", list(reversed(records)))
    assert leads.digest(first.db) == leads.digest(second.db)
    with second.transaction() as db:
        ingest(db, "crm", [records[3].model_copy(update={"company": "Other"})], stream="leads",
               crm_connections={"crm"}, run_id=None)
    assert leads.digest(first.db) != leads.digest(second.db)
    first.close()
    second.close()
