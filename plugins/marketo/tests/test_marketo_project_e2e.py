"""Marketo as the MA and the handoff target, end to end through `leadsync sync run` against the fake."""

from __future__ import annotations

from datetime import timedelta

import pytest

from leadsync_marketo.testing import MarketoFake, serve
from leadsync.connectors.testing import demo_project
from leadsync.core.state.store import StateStore

SECRET = "mkto-client-secret-4b1d"
FIELDS = ["leadsyncScore", "leadsyncBehaviorScore", "leadsyncAttributeScore", "leadsyncSegment",
          "leadsyncSheetVersion", "leadsyncScoredAt", "leadsyncHandoffKey"]


@pytest.fixture
def marketo():
    fake = MarketoFake(client_secret=SECRET, rate_calls=10_000)
    fake.fields.update(FIELDS)
    fake.add_campaign(1001, qualification="any")
    server = serve(fake)
    yield fake, server.url
    server.shutdown()


def _stamp(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_lead_created_200_days_ago_and_active_this_week_is_scored_and_handed_off(tmp_path, marketo, monkeypatch):
    fake, url = marketo
    monkeypatch.setenv("LEADSYNC_CONNECTIONS__CRM__CLIENT_SECRET", SECRET)
    crm = {"plugin": "marketo", "base_url": url, "client_id": "cid", "handoff_campaign_id": 1001,
           "roles": ["leads", "activities", "scores", "tasks"]}
    project = demo_project(tmp_path, crm, leads=5, activities=10)
    created = _stamp(project.anchor - timedelta(days=200))
    this_week = _stamp(project.anchor - timedelta(days=2))
    veteran = fake.add_lead(created, email="ceo@veteran.example.jp", title="代表取締役CEO", numberOfEmployees=1200,
                            industry="ソフトウェア", company="ベテラン株式会社")
    quiet = fake.add_lead(created, email="staff@quiet.example.jp", title="担当", numberOfEmployees=20)
    fake.add_activity(veteran, "Visit Webpage", this_week, "pricing", Webpage_URL="https://example.jp/pricing")
    fake.add_activity(quiet, "Open Email", this_week, "newsletter")

    summary = project.run()
    assert summary["exit_status"] == 0, summary

    store = StateStore(tmp_path / "state" / "state.db")
    try:
        dead = store.db.execute("SELECT reason FROM dead_letters").fetchall()
        rows = dict(store.db.execute(
            "SELECT r.record_id, s.total FROM scores s JOIN lead_refs r ON r.lead_key = s.lead_key "
            "AND r.connection = 'crm'").fetchall())
        segment = store.db.execute(
            "SELECT s.segment FROM scores s JOIN leads l ON l.key = s.lead_key WHERE l.email = ?",
            ("ceo@veteran.example.jp",)).fetchone()[0]
        handed = store.db.execute(
            "SELECT h.task_key FROM handoffs h JOIN leads l ON l.key = h.lead_key WHERE l.email = ?",
            ("ceo@veteran.example.jp",)).fetchall()
    finally:
        store.close()
    assert dead == []
    assert segment == "hot" and rows[str(veteran)] >= 80  # 75 from who they are, 25 from this week's visit
    assert fake.leads[veteran]["leadsyncScore"] == rows[str(veteran)]
    assert fake.leads[quiet]["leadsyncScore"] == rows[str(quiet)] and rows[str(quiet)] < 50
    assert len(handed) == 1
    runs = [r for r in fake.campaign_runs if r["leadId"] == veteran]
    assert len(runs) == 1 and runs[0]["tokens"]["{{my.leadsync_key}}"] == handed[0][0]

    again = project.run()
    assert again["exit_status"] == 0 and again["tasks_created"] == 0
    assert len([r for r in fake.campaign_runs if r["leadId"] == veteran]) == 1
