"""A Lead edited while the first sync reads is outside that read's window (SystemModstamp after the
signpost) while its older Tasks and Events are inside: they wait for it, and the next run, whose
window holds the edit, brings the Lead and places them. No dead letter, exit 0 both times."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from leadsync.connectors import normalize_email
from leadsync_salesforce.testing import sf_time


def test_the_activities_of_a_lead_edited_during_the_first_sync_wait_for_it(sf_world, reliability):
    world = sf_world()
    whos = [r.get("WhoId") for obj in ("Task", "Event") for r in world.app.records(obj)]
    lead = next(r for r in world.app.records("Lead") if whos.count(r["Id"]) >= 2)
    key = normalize_email(lead["Email"])
    lead["SystemModstamp"] = sf_time(datetime.now(timezone.utc) + timedelta(hours=1))  # edited after the read began

    first = world.run()
    assert first["exit_status"] == 0 and first["dead_lettered"] == 0, (first, reliability.dead_letters(world.store()))
    assert first["waiting_activities"] >= 2, first
    store = world.store()
    try:
        assert store.db.execute("SELECT COUNT(*) FROM activities WHERE lead_key = ? AND connection = 'crm'", (key,)).fetchone()[0] == 0
    finally:
        store.close()

    lead["SystemModstamp"] = sf_time()  # the edit's stamp, now inside the next run's window
    second = world.run()
    assert second["exit_status"] == 0 and second["dead_lettered"] == 0, (second, reliability.dead_letters(world.store()))
    assert second["waiting_activities"] == 0
    store = world.store()
    try:
        placed = store.db.execute("SELECT COUNT(*) FROM activities WHERE lead_key = ? AND connection = 'crm'", (key,)).fetchone()[0]
        scored = store.db.execute("SELECT breakdown FROM scores WHERE lead_key = ?", (key,)).fetchone()
    finally:
        store.close()
    assert placed == first["waiting_activities"] and scored is not None
