"""A vendor whose clock runs behind ours: its changes are still pulled (cursors on its clock)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("offset_s", [-600, 600])
def test_changes_stamped_on_a_skewed_vendor_clock_are_pulled(world_factory, offset_s):
    world = world_factory()
    world.app.clock_offset_s = offset_s  # its Date header and its modification stamps
    first = world.run()
    assert world.summary(first)["exit_status"] == 0, first.stderr[-2000:]
    if offset_s < 0:
        assert "behind this host's" in first.stderr  # above the 60 s warning threshold
    contact = world.app.records("contacts")[0]
    world.update_contact(contact["id"], {"jobtitle": "代表取締役社長"})

    second = world.summary(world.run())
    assert second["pulled"]["crm"]["leads"] >= 1, "the change stamped on the vendor's clock was skipped"
    store = world.store()
    try:
        data = store.db.execute("SELECT data FROM lead_refs WHERE connection = 'crm' AND record_id = ?",
                                (contact["id"],)).fetchone()[0]
    finally:
        store.close()
    assert "代表取締役社長" in data
