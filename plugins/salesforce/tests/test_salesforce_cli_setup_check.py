"""`leadsync connections setup` and `connections check` against the fake Salesforce, as an operator runs them."""

from __future__ import annotations

import json

from leadsync.connectors.testing import FakeServer, demo_project
from leadsync_salesforce.testing import SalesforceFake


def test_setup_then_check_names_missing_fields_and_owners_until_the_org_is_ready(tmp_path):
    app = SalesforceFake()
    with FakeServer(app) as server:
        app.url = server.url
        sato = app.add_user("sato@acme.example", email="sato@example.jp")
        gone = app.add_user("gone@acme.example", email="gone@example.jp", active=False)
        crm = {"plugin": "salesforce", "login_url": server.url, "client_id": "sf-cid", "refresh_token": "sf-rtok",
               "roles": ["leads", "scores", "tasks"]}
        project = demo_project(tmp_path, crm, owners=("sato@example.jp", "gone@example.jp", "nobody@example.jp"))

        setup = project.invoke("connections", "setup", "crm")
        assert setup.exit_code == 0 and "Leadsync_Key__c: Text(80), tick 'External ID'" in setup.stdout

        before = project.invoke("connections", "check", "crm", "--json")
        assert before.exit_code == 4
        checks = {c["what"]: c for c in json.loads(before.stdout)[0]["checks"]}
        assert not checks["Lead.Leadsync_Score__c"]["ok"] and not checks["Task.Leadsync_Key__c"]["ok"]

        app.define_leadsync_fields()  # what the admin does in Setup, following the printed steps
        after = project.invoke("connections", "check", "crm", "--json")
        checks = {c["what"]: c for c in json.loads(after.stdout)[0]["checks"]}
        assert checks["Task.Leadsync_Key__c"] == {"what": "Task.Leadsync_Key__c", "ok": True, "detail": "External ID"}
        assert checks["owner sato@example.jp"]["ok"] and checks["owner sato@example.jp"]["detail"].startswith(sato)
        assert not checks["owner gone@example.jp"]["ok"] and "inactive" in checks["owner gone@example.jp"]["detail"]
        assert gone in checks["owner gone@example.jp"]["detail"] and "handoff.owners[1]" in checks["owner gone@example.jp"]["detail"]
        assert not checks["owner nobody@example.jp"]["ok"] and "handoff.owners[2]" in checks["owner nobody@example.jp"]["detail"]
        assert after.exit_code == 4

        project.config_path.write_text(project.config_path.read_text(encoding="utf-8").replace(
            '"gone@example.jp", "nobody@example.jp"', '"sato@acme.example"'), encoding="utf-8")
        ready = project.invoke("connections", "check", "crm", "--json")
        assert ready.exit_code == 0, ready.stdout
        assert all(c["ok"] for c in json.loads(ready.stdout)[0]["checks"])
