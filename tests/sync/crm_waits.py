"""What the waiting-record tests share: a CRM connection "crm", its leads, a page ingested as the
engine does, and the engine's step after a run's pull."""

from __future__ import annotations

from leadsync.core.models import Lead
from leadsync.core.sync.identity import ingest as ingest_page
from leadsync.core.sync.latecomers import expire_waiting, place_waiting


def lead(record_id: str, email: str) -> Lead:
    return Lead(key=email, email=email, refs={"crm": record_id})


def ingest(store, records, *, stream: str, run_id: int | None = 1, one_by_one: bool = False):
    """Ingest one page of the "crm" connection; `one_by_one` repeats the first record, which takes
    the one-by-one path."""
    with store.transaction() as db:
        if one_by_one:
            records = [records[0], *records]
        return ingest_page(db, "crm", records, stream=stream, crm_connections={"crm"}, run_id=run_id)


def after_pull(store, run_id: int, kept_before: float = 0.0) -> tuple[int, int]:
    """What the engine does after a run's pull: (placed, dead-lettered)."""
    with store.transaction() as db:
        return place_waiting(db), expire_waiting(db, ["crm"], run_id, kept_before)
