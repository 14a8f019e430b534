"""`leadsync sync run` with kintone as the CRM (real HTTP to the fake): scores and tasks land once."""

from __future__ import annotations



from leadsync_kintone.testing import make_app, seed_demo
from leadsync.connectors.testing import FakeServer, demo_project




def test_sync_run_writes_scores_and_tasks_and_a_rerun_adds_nothing(kintone_fake, tmp_path) -> None:
    with FakeServer(make_app(kintone_fake)) as server:
        crm = {"plugin": "kintone", "base_url": server.url, "api_token": "lead-token-123,task-token-456",
               "leads_app": 10, "tasks_app": 30, "roles": ["leads", "scores", "tasks"]}
        project = demo_project(tmp_path, crm)
        seed_demo(kintone_fake, project.anchor, leads=300, activities=5000)
        run = project.run

        first = run()
        assert first["exit_status"] == 0, first
        scored = [r for r in kintone_fake.records(10).values() if r.get("leadsync_score") not in (None, "")]
        assert len(scored) >= 290
        assert {r["leadsync_segment"] for r in scored} <= {"hot", "warm", "cold"}
        tasks = dict(kintone_fake.records(30))
        assert tasks and len({t["leadsync_key"] for t in tasks.values()}) == len(tasks)
        puts = len([e for e in kintone_fake.log if e[0] == "PUT"])
        second = run()
        assert second["exit_status"] == 0, second
        assert dict(kintone_fake.records(30)).keys() == tasks.keys()
        assert len([e for e in kintone_fake.log if e[0] == "PUT"]) == puts


def test_owners_named_by_email_land_as_login_names_on_every_task(kintone_fake, tmp_path, monkeypatch) -> None:
    kintone_fake.users["integration"] = "pw-9"
    kintone_fake.directory.add("sato", "sato@example.jp")
    kintone_fake.directory.add("suzuki", "suzuki@example.jp")
    monkeypatch.setenv("LEADSYNC_CONNECTIONS__CRM__PASSWORD", "pw-9")
    with FakeServer(make_app(kintone_fake)) as server:
        crm = {"plugin": "kintone", "base_url": server.url, "username": "integration",
               "leads_app": 10, "tasks_app": 30, "roles": ["leads", "scores", "tasks"]}
        project = demo_project(tmp_path, crm, owners=("sato@example.jp", "suzuki@example.jp", "nobody@example.jp"))
        seed_demo(kintone_fake, project.anchor, leads=300, activities=5000)
        first = project.run()
        assert first["exit_status"] == 0, first
        tasks = list(kintone_fake.records(30).values())
        assert tasks
        # the user-selection field holds login names only: e-mails resolved, the unknown rep passed over
        assert {who["code"] for t in tasks for who in t["担当者"]} == {"sato", "suzuki"}
        assert kintone_fake.directory.calls == 1, "the user directory is read once per run"
