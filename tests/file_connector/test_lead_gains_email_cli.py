"""A lead first known without an e-mail (keyed by its record) that later gets one moves to the
e-mail's identity with everything named by its record: its activities keep counting in its score,
its deals in the reports, and no second score row stays behind under the old key."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta

from leadsync.connectors.testing.project import demo_project

_LEAD = "L-NOMAIL,{email},無,名,株式会社ノーメール,部長,,,500,SaaS,,,新規,,\n"


def test_a_lead_that_gains_an_email_keeps_its_activities_and_deals(tmp_path):
    project = demo_project(tmp_path, None, leads=30, activities=200)
    data = project.folder / "data"
    with (data / "leads.csv").open("a", encoding="utf-8") as leads:
        leads.write(_LEAD.format(email=""))
    rows = (data / "activities.csv").read_text(encoding="utf-8-sig").splitlines()
    day_before = (project.anchor - timedelta(days=1)).isoformat()
    rows = [rows[0] + ",lead_id", *(row + "," for row in rows[1:]),
            f"A-NM1,,content_download,{day_before},https://www.leadsync.example/whitepaper,,,,L-NOMAIL",
            f"A-NM2,,webinar_attend,{day_before},https://www.leadsync.example/webinar,,,,L-NOMAIL"]
    (data / "activities.csv").write_text("\n".join(rows) + "\n", encoding="utf-8-sig")
    (data / "opportunities.csv").write_text(
        "id,lead_id,name,created_at,stage,amount,status,closed_at\n"
        "O-NM,L-NOMAIL,導入案件,2026-09-01T10:00:00+09:00,受注,1200000,受注,2026-09-20T10:00:00+09:00\n",
        encoding="utf-8-sig")

    first = project.run()
    assert (first["exit_status"], first["dead_lettered"]) == (0, 0), first
    db = sqlite3.connect(project.folder / "state" / "state.db")
    (old_key, old_total), = db.execute(
        "SELECT s.lead_key, s.total FROM scores s JOIN lead_refs r ON r.lead_key = s.lead_key "
        "WHERE r.record_id = 'L-NOMAIL'").fetchall()
    assert db.execute("SELECT DISTINCT lead_key FROM activities WHERE source_id LIKE 'A-NM%'").fetchall() == [(old_key,)]

    text = (data / "leads.csv").read_text(encoding="utf-8-sig").replace(
        _LEAD.format(email=""), _LEAD.format(email="found@example.jp"))
    (data / "leads.csv").write_text(text, encoding="utf-8-sig")
    second = project.run()
    assert (second["exit_status"], second["dead_lettered"]) == (0, 0), second

    assert db.execute("SELECT source_id, lead_key FROM activities WHERE source_id LIKE 'A-NM%' ORDER BY 1").fetchall() == [
        ("A-NM1", "found@example.jp"), ("A-NM2", "found@example.jp")]
    assert db.execute("SELECT lead_key FROM opportunities WHERE source_id = 'O-NM'").fetchall() == [("found@example.jp",)]
    total, breakdown = db.execute("SELECT total, breakdown FROM scores WHERE lead_key = 'found@example.jp'").fetchone()
    evidence = {e for hit in json.loads(breakdown) for e in hit.get("evidence", [])}
    assert {"A-NM1", "A-NM2"} <= evidence, breakdown
    assert total == old_total, "the same person with the same data scores the same"
    assert db.execute("SELECT COUNT(*) FROM scores WHERE lead_key = ?", (old_key,)).fetchone() == (0,), \
        "no score stays behind for a lead that is gone"
    assert db.execute("SELECT COUNT(*) FROM leads WHERE key = ?", (old_key,)).fetchone() == (0,)

    third = project.run()  # nothing changed: nothing moves back, nothing is rescored
    assert (third["exit_status"], third["dead_lettered"]) == (0, 0), third
    assert db.execute("SELECT DISTINCT lead_key FROM activities WHERE source_id LIKE 'A-NM%'").fetchall() == [
        ("found@example.jp",)]
