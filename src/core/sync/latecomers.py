"""Records answered before their lead: keeping them, placing them once the lead is stored, and
dead-lettering the ones whose lead never came.

An activity or an opportunity that names its lead only by the lead's record id, with no such lead
stored, waits (`leadsync.core.state.waiting`): a lead edited after a first sync's read of leads
began is read by the next run, while its older activities and deals come now.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence

from leadsync.core.models import Activity, Opportunity
from leadsync.core.state import activities, dead_letters, leads, opportunities, waiting

__all__ = ["expire_waiting", "place_waiting", "rescored", "wait"]


def wait(db: sqlite3.Connection, connection: str, records: Sequence[Activity | Opportunity], stream: str,
         run_id: int | None) -> None:
    """Keep records (all of one kind) whose lead, named by its record id, is not stored yet.

    The read is the vendor's latest word: a version stored under the lead an older read named is
    removed (that lead is rescored without the activity; a deal no longer counts for it)."""
    if not records:
        return
    kind = "opportunity" if isinstance(records[0], Opportunity) else "activity"
    now = time.time()
    waiting.keep(db, [(connection, r.source_id, str(r.lead_record_id), stream,
                       r.model_copy(update={"connection": connection}).model_dump_json(), now, run_id)
                      for r in records], kind)
    source_ids = [r.source_id for r in records]
    if kind == "opportunity":
        opportunities.remove(db, connection, source_ids)
    else:
        leads.mark_dirty_many(db, list(dict.fromkeys(activities.remove(db, connection, source_ids))))


def rescored(saves: list[tuple[Activity, str]], stored: dict[str, str]) -> list[str]:
    """The leads whose scores the saves change: each saved activity's lead, and the lead an
    activity the vendor moved to another lead leaves (its score counted it)."""
    keys = dict.fromkeys(a.lead_key for a, _ in saves)
    for activity, _ in saves:
        before = stored.get(activity.source_id)
        if before is not None and f'"lead_key":{json.dumps(activity.lead_key, ensure_ascii=False)}' not in before:
            left = json.loads(before).get("lead_key")
            if left and left != activity.lead_key:
                keys[left] = None
    return list(keys)


def place_waiting(db: sqlite3.Connection) -> int:
    """Store the waiting activities and opportunities whose lead is stored now, as a read of them
    would have; returns how many were stored. Call inside a transaction, after a run's pull.

    A waiting copy is the record's latest read: a later read that placed it dropped the copy
    (`waiting.forget_read`), and the read that made it wait removed the version an older read had
    stored (`wait`): whatever is stored for it is older and is replaced."""
    return _place_activities(db) + _place_opportunities(db)


def _place_activities(db: sqlite3.Connection) -> int:
    rows = waiting.placeable(db)
    if not rows:
        return 0
    saves: list[tuple[Activity, str]] = []
    dirty: list[str] = []
    for connection, source_id, lead_key, data in rows:
        activity = Activity.model_validate_json(data).model_copy(update={"connection": connection, "lead_key": lead_key})
        placed = activity.model_dump_json()
        stored = activities.stored_data(db, connection, source_id)
        if stored != placed:
            saves.append((activity, placed))
            dirty += rescored([(activity, placed)], {source_id: stored} if stored is not None else {})
    activities.save_many(db, saves)
    leads.mark_dirty_many(db, list(dict.fromkeys(dirty)))
    waiting.drop(db, [(connection, source_id) for connection, source_id, _, _ in rows])
    return len(saves)


def _place_opportunities(db: sqlite3.Connection) -> int:
    rows = waiting.placeable(db, "opportunity")
    placed = 0
    for connection, _source_id, lead_key, data in rows:
        opportunity = Opportunity.model_validate_json(data).model_copy(update={"lead_key": lead_key})
        placed += opportunities.store_opportunity(db, connection, opportunity) is True
    waiting.drop(db, [(connection, source_id) for connection, source_id, _, _ in rows], "opportunity")
    return placed


def expire_waiting(db: sqlite3.Connection, connections: Iterable[str], run_id: int, kept_before: float) -> int:
    """Dead-letter the waiting records of `connections` (each read completely by run `run_id`)
    that an earlier run kept before `kept_before` and whose lead is still not stored. Call after
    `place_waiting`; returns how many count as dead letters of this run.

    The engine passes the start of the previous run minus the look-back. A lead that lags its
    record was modified before the record was kept, at the latest while that run read; every
    incremental read re-reads the look-back behind its cursor, so once a run started that long
    after, a read has covered that moment with the vendor's index caught up (a lag within the
    look-back), and this run's complete read re-read whatever a failed one missed.
    """
    dead = 0
    for connection in connections:
        for kind in waiting.KINDS:
            rows = waiting.unplaced(db, connection, run_id, kept_before, kind)
            for source_id, record_id, stream, data in rows:
                reason = (f"{kind} {source_id}: no lead with record id {record_id!r} in {connection}, "
                          "though the reads since it came would have brought it")
                dead += dead_letters.add_once(db, run_id=run_id, connection=connection, kind=stream, key=source_id,
                                              reason=reason, payload=json.loads(data))
            waiting.drop(db, [(connection, source_id) for source_id, _, _, _ in rows], kind)
    return dead
