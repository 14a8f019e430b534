"""End to end: a lead merged into another and a lead deleted in Marketo leave leadsync on the next run."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest

from leadsync.connectors.testing import demo_project
from leadsync_marketo.testing import MarketoFake, serve

SECRET = "mkto-client-secret-77aa"


@pytest.fixture
def marketo():
    fake = MarketoFake(client_secret=SECRET, rate_calls=10_000)
    server = serve(fake)
    yield fake, server.url
    server.shutdown()


def _stamp(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _state(tmp_path):
    db = sqlite3.connect(tmp_path / "state" / "state.db")
    try:
        leads = {row[0] for row in db.execute("SELECT key FROM leads")}
        scores = {row[0] for row in db.execute("SELECT lead_key FROM scores")}
        acts = dict(db.execute("SELECT source_id, lead_key FROM activities WHERE connection = 'crm'").fetchall())
    finally:
        db.close()
    return leads, scores, acts


def test_a_merged_and_a_deleted_marketo_lead_are_removed_and_the_merged_ones_activities_follow(tmp_path, marketo,
                                                                                              monkeypatch):
    fake, url = marketo
    monkeypatch.setenv("LEADSYNC_CONNECTIONS__CRM__CLIENT_SECRET", SECRET)
    crm = {"plugin": "marketo", "base_url": url, "client_id": "cid", "roles": ["leads", "activities"]}
    project = demo_project(tmp_path, crm, leads=5, activities=10)
    created = _stamp(project.anchor - timedelta(days=3))
    primary = fake.add_lead(created, email="primary@merge.example.jp", title="部長", numberOfEmployees=300)
    second = fake.add_lead(created, email="second@merge.example.jp", title="課長")
    gone = fake.add_lead(created, email="gone@delete.example.jp", title="担当")
    visit = fake.add_activity(second, "Visit Webpage", _stamp(project.anchor - timedelta(days=2)), "pricing",
                              Webpage_URL="https://example.jp/pricing")
    fake.add_activity(gone, "Open Email", _stamp(project.anchor - timedelta(days=2)), "newsletter")

    first = project.run()
    assert first["exit_status"] == 0, first
    leads, scores, acts = _state(tmp_path)
    assert {"primary@merge.example.jp", "second@merge.example.jp", "gone@delete.example.jp"} <= leads
    assert "gone@delete.example.jp" in scores and acts[visit["marketoGUID"]] == "second@merge.example.jp"

    fake.merge_leads(primary, [second])
    fake.delete_lead(gone)
    summary = project.run()
    assert summary["exit_status"] == 0, summary
    assert summary["leads_removed"] == 2
    leads, scores, acts = _state(tmp_path)
    assert "second@merge.example.jp" not in leads and "primary@merge.example.jp" in leads
    assert acts[visit["marketoGUID"]] == "primary@merge.example.jp"
    assert "gone@delete.example.jp" not in leads and "gone@delete.example.jp" not in scores
    assert "second@merge.example.jp" not in scores

    again = project.run()
    assert again["exit_status"] == 0 and again["leads_removed"] == 0
