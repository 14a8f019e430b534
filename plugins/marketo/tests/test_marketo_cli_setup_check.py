"""`leadsync connections setup` and `connections check` against the fake Marketo, as an operator runs them."""

from __future__ import annotations

import json

from leadsync.connectors.testing import demo_project
from leadsync_marketo.testing import MarketoFake, serve

SECRET = "mkto-client-secret-77aa"


def test_setup_creates_the_fields_then_check_passes_and_a_once_only_campaign_fails(tmp_path, monkeypatch):
    fake = MarketoFake(client_secret=SECRET, rate_calls=10_000)
    fake.add_campaign(1001, qualification="any")
    fake.add_campaign(1002, qualification="once")
    server = serve(fake)
    try:
        monkeypatch.setenv("LEADSYNC_CONNECTIONS__CRM__CLIENT_SECRET", SECRET)
        crm = {"plugin": "marketo", "base_url": server.url, "client_id": "cid", "handoff_campaign_id": 1001,
               "roles": ["leads", "activities", "scores", "tasks"]}
        project = demo_project(tmp_path, crm, leads=5, activities=10)

        before = project.invoke("connections", "check", "crm", "--json")
        assert before.exit_code == 4
        assert [c for c in json.loads(before.stdout)[0]["checks"] if not c["ok"]]

        setup = project.invoke("connections", "setup", "crm")
        assert setup.exit_code == 0 and "leadsyncScore: created" in setup.stdout
        again = project.invoke("connections", "setup", "crm")
        assert again.exit_code == 0 and "created" not in again.stdout  # nothing twice

        after = project.invoke("connections", "check", "crm", "--json")
        assert after.exit_code == 0, after.stdout
        assert all(c["ok"] for c in json.loads(after.stdout)[0]["checks"])
        assert SECRET not in before.stdout + setup.stdout + after.stdout

        project.config_path.write_text(project.config_path.read_text(encoding="utf-8").replace(
            "handoff_campaign_id = 1001", "handoff_campaign_id = 1002"), encoding="utf-8")
        once = project.invoke("connections", "check", "crm", "--json")
        assert once.exit_code == 4
        assert any("once" in c["detail"] for c in json.loads(once.stdout)[0]["checks"] if not c["ok"])
    finally:
        server.shutdown()
