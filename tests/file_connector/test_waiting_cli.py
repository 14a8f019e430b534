"""An activity whose lead is not in the data yet waits for it (exit 0), is scored once the lead
comes, and becomes a dead letter (exit 1) only once the reads that would have brought it are done."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta

from leadsync.connectors.testing.project import demo_project


def test_an_activity_before_its_lead_waits_then_is_scored_and_one_whose_lead_never_comes_is_dead_lettered(tmp_path):
    project = demo_project(tmp_path, None, leads=30, activities=200)
    with (project.folder / "leadsync.toml").open("a", encoding="utf-8") as config:
        config.write("\n[sync]\nlookback_minutes = 0\n")  # a dead letter one run sooner: see the third run
    data = project.folder / "data"
    rows = (data / "activities.csv").read_text(encoding="utf-8-sig").splitlines()
    day_before = (project.anchor - timedelta(days=1)).isoformat()
    rows = [rows[0] + ",lead_id", *(row + "," for row in rows[1:]),
            f"A-LATE,,content_download,{day_before},https://www.leadsync.example/whitepaper,,,,L-LATE",
            f"A-TYPO,,content_download,{day_before},https://www.leadsync.example/whitepaper,,,,L-TYPO"]
    (data / "activities.csv").write_text("\n".join(rows) + "\n", encoding="utf-8-sig")

    first = project.run()
    assert (first["exit_status"], first["dead_lettered"], first["waiting_activities"]) == (0, 0, 2), first
    status = json.loads(project.invoke("sync", "status", "--json").stdout)
    assert status["waiting_activities"] == 2 and status["dead_letters_total"] == 0

    with (data / "leads.csv").open("a", encoding="utf-8") as leads:  # the lead arrives
        leads.write("L-LATE,late.comer@example.jp,遅,来,株式会社レイト,部長,,,500,SaaS,,,新規,,\n")
    second = project.run()
    assert (second["exit_status"], second["dead_lettered"], second["waiting_activities"]) == (0, 0, 1), second
    db = sqlite3.connect(project.folder / "state" / "state.db")
    assert db.execute("SELECT lead_key FROM activities WHERE source_id = 'A-LATE'").fetchone() == ("late.comer@example.jp",)
    breakdown = json.loads(db.execute("SELECT breakdown FROM scores WHERE lead_key = 'late.comer@example.jp'").fetchone()[0])
    assert any("A-LATE" in hit.get("evidence", []) for hit in breakdown), breakdown

    # A-TYPO was kept during the first run; the second run started after it (the look-back is 0),
    # so the second run's read would have brought its lead: the third run makes it a dead letter.
    third = project.run()
    assert (third["exit_status"], third["dead_lettered"], third["waiting_activities"]) == (1, 1, 0), third
    (key, reason), = db.execute("SELECT record_key, reason FROM dead_letters").fetchall()
    assert key == "A-TYPO" and "no lead with record id 'L-TYPO' in ma" in reason

    fourth = project.run()  # nothing changed, nothing read: the dead letter is not counted again
    assert (fourth["exit_status"], fourth["dead_lettered"], fourth["waiting_activities"]) == (0, 0, 0), fourth
    assert db.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0] == 1
    assert json.loads(project.invoke("sync", "status", "--json").stdout)["dead_letters_total"] == 1


def test_an_opportunity_before_its_lead_waits_then_counts_for_that_lead(tmp_path):
    """Before, a row of opportunities.csv naming a lead_id not in leads.csv was filed under the
    guessed key `ma:<lead_id>`, a lead that never exists, and never counted for the real one."""
    project = demo_project(tmp_path, None, leads=30, activities=200)
    data = project.folder / "data"
    (data / "opportunities.csv").write_text(
        "id,lead_id,name,created_at,stage,amount,status,closed_at\n"
        "O-LATE,L-LATE,導入案件,2026-09-01T10:00:00+09:00,受注,1200000,受注,2026-09-20T10:00:00+09:00\n",
        encoding="utf-8-sig")

    first = project.run()
    assert (first["exit_status"], first["dead_lettered"], first["waiting_opportunities"]) == (0, 0, 1), first
    assert json.loads(project.invoke("sync", "status", "--json").stdout)["waiting_opportunities"] == 1
    db = sqlite3.connect(project.folder / "state" / "state.db")
    assert db.execute("SELECT COUNT(*) FROM opportunities").fetchone() == (0,), "not under a guessed key"

    with (data / "leads.csv").open("a", encoding="utf-8") as leads:  # the lead arrives
        leads.write("L-LATE,late.comer@example.jp,遅,来,株式会社レイト,部長,,,500,SaaS,,,新規,,\n")
    second = project.run()
    assert (second["exit_status"], second["dead_lettered"], second["waiting_opportunities"]) == (0, 0, 0), second
    assert db.execute("SELECT lead_key, status FROM opportunities").fetchall() == [("late.comer@example.jp", "won")]
