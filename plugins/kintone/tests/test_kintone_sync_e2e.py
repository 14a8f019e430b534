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
