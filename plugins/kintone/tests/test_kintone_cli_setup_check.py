"""`leadsync connections setup` and `connections check` against the fake kintone (real HTTP), as an operator runs them."""

from __future__ import annotations

import json

from leadsync.connectors.testing import FakeServer, demo_project
from leadsync_kintone.testing import make_app


def test_setup_adds_and_deploys_the_fields_then_check_names_owners_until_ready(kintone_fake, tmp_path, monkeypatch):
    for app, code in ((10, "leadsync_score"), (10, "leadsync_segment"), (30, "件名")):
        del kintone_fake.apps[app]["fields"][code]
    kintone_fake.deploy_polls = 3
    kintone_fake.users["integration"] = "pw-123"
    kintone_fake.directory.add("sato", "sato@example.jp")
    kintone_fake.directory.add("gone", "gone@example.jp", valid=False)
    monkeypatch.setenv("LEADSYNC_CONNECTIONS__CRM__PASSWORD", "pw-123")
    with FakeServer(make_app(kintone_fake)) as server:
        crm = {"plugin": "kintone", "base_url": server.url, "username": "integration", "leads_app": 10,
               "tasks_app": 30, "roles": ["leads", "scores", "tasks"], "deploy_poll_s": 0.01}
        project = demo_project(tmp_path, crm, owners=("sato@example.jp", "gone@example.jp"))

        before = project.invoke("connections", "check", "crm", "--json")
        assert before.exit_code == 4
        failed = [c["what"] for c in json.loads(before.stdout)[0]["checks"] if not c["ok"]]
        assert failed == ["app 10 field leadsync_score", "app 10 field leadsync_segment", "app 30 field 件名"]

        setup = project.invoke("connections", "setup", "crm")
        assert setup.exit_code == 0, setup.stdout
        assert "app 10: added fields leadsync_score, leadsync_segment and deployed" in setup.stdout
        assert kintone_fake.deploys == 2
        looks = [e for e in kintone_fake.log if e[:2] == ("GET", "/k/v1/preview/app/deploy.json")]
        assert len(looks) == 2 * 4  # each app: PROCESSING three times, then SUCCESS

        after = project.invoke("connections", "check", "crm", "--json")
        checks = {c["what"]: c for c in json.loads(after.stdout)[0]["checks"]}
        assert all(c["ok"] for w, c in checks.items() if not w.startswith("owner "))
        assert checks["owner sato@example.jp"]["ok"] and checks["owner sato@example.jp"]["detail"].startswith("sato")
        assert not checks["owner gone@example.jp"]["ok"] and "suspended" in checks["owner gone@example.jp"]["detail"]
        assert after.exit_code == 4

        project.config_path.write_text(project.config_path.read_text(encoding="utf-8").replace(
            '"gone@example.jp"', '"sato"'), encoding="utf-8")
        ready = project.invoke("connections", "check", "crm")
        assert ready.exit_code == 0, ready.stdout
