"""A HubSpot contact created without an e-mail (a call logged for a phone number) that gets one
later keeps its calls and deals: the engagements were read long ago and are not read again, so
they must follow the contact to the e-mail's identity."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest

from leadsync.connectors.testing import FakeServer, demo_project
from leadsync_hubspot.kpi_streams import CALL_DISPOSITIONS
from leadsync_hubspot.testing import HubSpotFake


@pytest.fixture
def fake():
    app = HubSpotFake()
    with FakeServer(app) as server:
        yield app, server


def test_a_contact_that_gets_an_email_keeps_its_calls_and_deals(fake, tmp_path):
    app, server = fake
    project = demo_project(tmp_path, {"plugin": "hubspot", "base_url": server.url, "token": "pat-fake-token",
                                      "roles": ["leads", "activities"]}, leads=20, activities=100)
    day = int((project.anchor - timedelta(days=1)).timestamp() * 1000)
    contact = app.add("contacts", {"firstname": "花子", "lastname": "電話", "company": "株式会社コール"},
                      modified_ms=day - 3_600_000)
    connected = next(g for g, o in CALL_DISPOSITIONS.items() if o == "connected")
    call = app.add("calls", {"hs_timestamp": str(day), "hs_call_duration": "125000", "hs_call_disposition": connected},
                   modified_ms=day, contact_id=contact)
    deal = app.add("deals", {"dealname": "導入", "amount": "1200000", "closedate": str(day + 10), "hs_is_closed": "true",
                             "hs_is_closed_won": "true", "dealstage": "closedwon"},
                   created_ms=day, modified_ms=day + 10, contact_id=contact)

    first = project.run()
    assert (first["exit_status"], first["dead_lettered"]) == (0, 0), first
    db = sqlite3.connect(project.folder / "state" / "state.db")
    (old_key,), = db.execute("SELECT lead_key FROM lead_refs WHERE connection = 'crm' AND record_id = ?", (contact,))
    assert "@" not in old_key
    assert db.execute("SELECT lead_key FROM activities WHERE connection = 'crm'").fetchall() == [(old_key,)]

    app.user_edit("contacts", contact, {"email": "Hanako.Denwa@Example.jp"})
    second = project.run()
    assert (second["exit_status"], second["dead_lettered"]) == (0, 0), second
    key = "hanako.denwa@example.jp"
    assert db.execute("SELECT source_id, lead_key FROM activities WHERE connection = 'crm'").fetchall() == [(f"calls:{call}", key)]
    assert db.execute("SELECT lead_key, status FROM opportunities WHERE source_id LIKE ?", (f"%{deal}",)).fetchall() == [
        (key, "won")]
    assert db.execute("SELECT COUNT(*) FROM leads WHERE key = ?", (old_key,)).fetchone() == (0,)
    assert db.execute("SELECT COUNT(*) FROM scores WHERE lead_key = ?", (old_key,)).fetchone() == (0,)
    assert db.execute("SELECT COUNT(*) FROM scores WHERE lead_key = ?", (key,)).fetchone() == (1,)
