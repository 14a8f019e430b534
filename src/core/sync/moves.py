"""A lead record that changes identity (its first or a new e-mail) or that the vendor removed
(deleted, or merged into another record): what named it follows it (docs/architecture.md)."""

from __future__ import annotations

import sqlite3
import time

from leadsync.connectors.base import RemovedLead
from leadsync.core.quality.gate import record_conflicts
from leadsync.core.state import handoffs, leads, outbox, quality, scores, waiting
from leadsync.core.state.follow import follow_record
from leadsync.core.sync.merge import rebuild

__all__ = ["record_joined", "record_moved", "record_removed"]


def record_moved(db: sqlite3.Connection, connection: str, record_id: str, old_key: str, new_key: str,
                 crm_connections: set[str]) -> bool:
    """The record, already stored under `new_key`, was under `old_key`: its activities, deals,
    episodes and pending score updates follow it, and the old lead is rebuilt from the records
    left. True when the old lead changed."""
    _follow(db, connection, record_id, old_key, new_key)
    changed = rebuild(db, old_key, crm_connections)
    record_conflicts(db, old_key)
    _episodes(db, connection, record_id, old_key, new_key)
    _tasks(db, connection, record_id)
    outbox.supersede_record_scores(db, connection, old_key, record_id)  # the new lead's is planned:
    scores.forget_pushed(db, connection, new_key)  # the record did not have it when it was last acknowledged
    return changed


def record_joined(db: sqlite3.Connection, connection: str, record_id: str, key: str) -> None:
    """A new record of `connection` belongs to a lead that already has another record there (two
    contacts sharing an e-mail): the lead's score, acknowledged before, is planned again so the new
    record gets it too (score updates go per record)."""
    if leads.has_other_record(db, key, connection, record_id):
        scores.forget_pushed(db, connection, key)


def record_removed(db: sqlite3.Connection, connection: str, removed: RemovedLead, crm_connections: set[str]) -> bool:
    """Forget a record the vendor deleted or merged away; False when it was never stored.

    Its lead is rebuilt from the records left (deleted when none is) and score updates still
    pending for the record are superseded (it is gone). A merged record's activities, deals and
    episodes follow it to the survivor's lead as a moved record's do. A deleted record's lead's
    open episode is closed (expired, the reason names the connection) when the lead is gone, or
    when it was of that connection and the lead has no record left there (the task was on it).
    Records waiting for it wait for the survivor, or, deleted, are forgotten."""
    waiting.removed_lead(db, connection, removed.record_id, removed.merged_into)
    previous = leads.view(db, connection, removed.record_id)
    if previous is None:
        return False
    old_key = previous[0]
    survivor = leads.known_lead(db, connection, removed.merged_into) if removed.merged_into else None
    leads.drop_view(db, connection, removed.record_id)
    if survivor is not None and survivor != old_key:
        _follow(db, connection, removed.record_id, old_key, survivor)
    rebuild(db, old_key, crm_connections)
    record_conflicts(db, old_key)
    outbox.supersede_record_scores(db, connection, old_key, removed.record_id)
    if survivor is not None and survivor != old_key:
        _episodes(db, connection, removed.record_id, old_key, survivor)
    elif survivor is None and (row := handoffs.open_for_lead(db, old_key)) is not None:
        gone = leads.stored_data(db, old_key) is None
        if gone or (row["connection"] == connection
                    and not leads.has_other_record(db, old_key, connection, removed.record_id)):
            handoffs.close(db, row["id"], "expired", time.time(), f"the lead's record was deleted in {connection}")
    _tasks(db, connection, removed.record_id)
    return True


def _tasks(db: sqlite3.Connection, connection: str, record_id: str) -> None:
    """Task creates still pending for the record follow their episode: one whose episode is closed
    is not sent (a merge left the person one open handoff, or the lead's record was deleted); one
    whose episode is open goes to the record its lead now has in `connection` (the survivor of a
    merge: the vendor refuses a task on a record it deleted, for good), or, none left, is not sent."""
    for key in outbox.record_tasks(db, connection, record_id):
        episode = handoffs.by_task_key(db, key)
        if episode is None:
            continue  # not a handoff's task: nothing says where it belongs
        lead = leads.load(db, episode["lead_key"]) if episode["status"] == "open" else None
        target = lead.refs.get(connection) if lead is not None else None
        if target is None:
            outbox.supersede(db, [key], episode["lead_key"])
        else:
            outbox.retarget_task(db, key, episode["lead_key"], target)


def _follow(db: sqlite3.Connection, connection: str, record_id: str, old_key: str, new_key: str) -> None:
    """What names the record by its id moves with it (activities and deals read long ago are not
    read again); both leads are rescored."""
    if follow_record(db, connection, record_id, old_key, new_key):
        leads.mark_dirty_many(db, [old_key, new_key])


def _episodes(db: sqlite3.Connection, connection: str, record_id: str, old_key: str, new_key: str) -> None:
    """When the old lead is gone it was the same person: all its episodes go to the new lead. When
    it stays (another system still knows it) but has no record left in `connection`, its episodes
    of that connection go: their task is on the record that moved (else the new lead could get a
    second task on it, and the rep's calls on it would not touch the episode left behind)."""
    if leads.stored_data(db, old_key) is None:
        handoffs.move_lead(db, old_key, new_key, now=time.time())
        quality.move_release(db, old_key, new_key)  # a person let it through the gate: it stays let through
    elif not leads.has_other_record(db, old_key, connection, record_id):
        handoffs.move_lead(db, old_key, new_key, connection, now=time.time())
