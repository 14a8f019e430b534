"""Every example in docs/plugins/hooks.md runs, called the way leadsync calls its hook."""

from __future__ import annotations

import re
import types
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from leadsync.connectors import hookspecs
from leadsync.connectors.base import TaskRequest, WriteResult
from leadsync.connectors.plugins import get_plugin_host
from leadsync.core.handoff import announce_created, notify_overdue
from leadsync.core.models import Activity, ActivityType, Lead, RuleHit, Score, Segment
from leadsync.core.state import handoffs, leads
from leadsync.core.state.store import StateStore

DOC = Path(__file__).resolve().parents[1] / "docs" / "plugins" / "hooks.md"
NOW = datetime(2025, 4, 7, 9, 0, tzinfo=timezone.utc)


def examples() -> dict[str, str]:
    """hook name -> the python example of its section."""
    found = {}
    for section in re.split(r"^## ", DOC.read_text(encoding="utf-8"), flags=re.M)[1:]:
        name = section.split("(", 1)[0]
        blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
        if blocks:
            found[name] = blocks[0]
    return found


def plugin(name: str) -> tuple[types.ModuleType, list[str]]:
    """The example as a plugin module; its calls to `post_to_slack`/`page_the_manager` are recorded."""
    said: list[str] = []
    module = types.ModuleType(f"example_{name}")
    module.post_to_slack = said.append  # type: ignore[attr-defined]
    module.page_the_manager = said.append  # type: ignore[attr-defined]
    exec(compile(examples()[name], f"{DOC}:{name}", "exec"), module.__dict__)
    return module, said


def host_with(module: types.ModuleType):
    host = get_plugin_host(load_entrypoints=False)
    host.pm.register(module)
    return host


def test_every_hook_has_one_example():
    hooks = {n for n in dir(hookspecs) if hasattr(getattr(hookspecs, n), "leadsync_spec")}
    assert set(examples()) == hooks


def test_register_connectors_example():
    module, _ = plugin("register_connectors")
    assert host_with(module).connectors()["acme"].__name__ == "AcmeConnector"


def test_register_scoring_conditions_example():
    module, _ = plugin("register_scoring_conditions")
    registered: dict = {}
    module.register_scoring_conditions(register=lambda name, factory: registered.__setitem__(name, factory))
    calls = [Activity(source_id=f"c{i}", lead_key="a@example.jp", type=ActivityType.CALL, occurred_at=NOW) for i in range(2)]
    condition = registered["calls"]("2")
    assert condition(Lead(key="a@example.jp"), calls, NOW) == calls
    assert condition(Lead(key="a@example.jp"), calls[:1], NOW) is None


def test_normalize_lead_example():
    module, _ = plugin("normalize_lead")
    results = host_with(module).hook.normalize_lead(lead=Lead(key="a", company="Acme (HQ)"), connection="crm")
    assert [r.company for r in results if r is not None] == ["Acme"]


def test_route_owner_example():
    module, _ = plugin("route_owner")
    score = Score(lead_key="a", total=90, behavior=50, attribute=40, segment=Segment.HOT, sheet_version="v1",
                  scored_at=NOW, breakdown=[RuleHit(rule="r", group="g", points=90)])
    hook = host_with(module).hook.route_owner
    assert hook(lead=Lead(key="a", custom={"prefecture": "大阪府"}), score=score, owners=["x"]) == "005KANSAI"
    assert hook(lead=Lead(key="b", custom={"prefecture": "東京都"}), score=score, owners=["x"]) is None


@pytest.fixture
def store_with_handoff():
    store = StateStore(":memory:")
    with store.transaction() as db:
        leads.put(db, Lead(key="a@example.jp", email="a@example.jp", last_name="山田", first_name="太郎", company="株式会社サンプル"))
        handoffs.insert(db, lead_key="a@example.jp", connection="crm", owner="rep-a", score=90, segment="hot",
                        opened_at=NOW.timestamp(), due_at=(NOW + timedelta(hours=4)).timestamp(), task_key="ls-1",
                        reasons=[], opened_status=None)
    yield store
    store.close()


def test_handoff_created_example(store_with_handoff):
    module, said = plugin("handoff_created")
    task = TaskRequest(key="ls-1", lead_key="a@example.jp", email="a@example.jp", record_id="00Q1", owner="rep-a",
                       subject="[MQL] 株式会社サンプル", body="...", due_at=NOW + timedelta(hours=4))
    announce_created(store_with_handoff, host_with(module), task, WriteResult(key="ls-1", ok=True, external_id="00T1"))
    assert said == ["New MQL for rep-a: [MQL] 株式会社サンプル (due 04/07 13:00)"]


def test_handoff_overdue_example(store_with_handoff):
    module, said = plugin("handoff_overdue")
    late = NOW + timedelta(days=1)
    assert notify_overdue(store_with_handoff, late, host_with(module)) == ["ls-1"]
    assert said == ["株式会社サンプル 山田 太郎: SLA missed by rep-a (due 04/07 13:00)"]
    assert notify_overdue(store_with_handoff, late, host_with(module)) == []  # once per episode
    assert len(said) == 1


def test_register_commands_example():
    module, _ = plugin("register_commands")
    cli = click.Group("leadsync")
    host_with(module).hook.register_commands(cli=cli)
    result = CliRunner().invoke(cli, ["acme-status"])
    assert result.exit_code == 0 and result.output == "ok\n"
