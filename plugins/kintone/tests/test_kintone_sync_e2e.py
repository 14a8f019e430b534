"""`leadsync sync run` with kintone as the CRM (real HTTP to the fake): scores and tasks land once."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

from click.testing import CliRunner

from leadsync.connectors.testing.fakes.kintone import make_app, seed_demo
from leadsync.connectors.testing.fakeserver import FakeServer
from leadsync.core.cli.main import cli
from leadsync.core.demo import write_demo

SHEET = Path(__file__).resolve().parents[3] / "src" / "core" / "data" / "scoring-sheet.csv"
CONFIG = """
[state]
path = "state/state.db"

[scoring]
sheet = "scoring-sheet.csv"

[handoff]
owners = ["sato", "suzuki"]

[connections.ma]
plugin = "file"
path = "data"
output = "out"
roles = ["leads", "activities"]

[connections.crm]
plugin = "kintone"
base_url = "{url}"
api_token = "lead-token-123,task-token-456"
leads_app = 10
tasks_app = 30
roles = ["leads", "scores", "tasks"]
"""


def test_sync_run_writes_scores_and_tasks_and_a_rerun_adds_nothing(kintone_fake, tmp_path) -> None:
    anchor = datetime.now(timezone.utc).replace(microsecond=0)
    write_demo(tmp_path / "data", anchor, leads=300, activities=5000)
    seed_demo(kintone_fake, anchor, leads=300, activities=5000)
    shutil.copy(SHEET, tmp_path / "scoring-sheet.csv")
    with FakeServer(make_app(kintone_fake)) as server:
        (tmp_path / "leadsync.toml").write_text(CONFIG.format(url=server.url), encoding="utf-8")

        def run() -> dict:
            result = CliRunner().invoke(cli, ["--config", str(tmp_path / "leadsync.toml"), "sync", "run", "--json"],
                                        catch_exceptions=False)
            return json.loads(result.stdout)

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
