"""Extra condition kinds from plugins (`register_scoring_conditions`) in the sheet's ルール column."""

from __future__ import annotations

import types
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from leadsync.connectors.hookspecs import hookimpl
from leadsync.connectors.plugins import get_plugin_host
from leadsync.core.errors import ConfigError
from leadsync.core.models import Lead
from leadsync.core.scoring import (
    load_score,
    load_sheet,
    rescore,
    score_lead,
    scoring_conditions,
)

NOW = datetime(2025, 6, 1, 3, 0, tzinfo=UTC)


def _calls_at_least(argument: str):  # type: ignore[no-untyped-def]
    needed = int(argument)

    def condition(lead, activities, as_of):  # type: ignore[no-untyped-def]
        calls = [a.source_id for a in activities if a.type.value == "call"]
        return calls if len(calls) >= needed else None

    return condition


class CallsPlugin:
    @hookimpl
    def register_scoring_conditions(self, register):  # type: ignore[no-untyped-def]
        register("calls", _calls_at_least)


class BrokenPlugin:
    @hookimpl
    def register_scoring_conditions(self, register):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")


def _host():  # type: ignore[no-untyped-def]
    host = get_plugin_host(load_entrypoints=False)
    host.pm.register(BrokenPlugin(), name="broken")
    host.pm.register(CallsPlugin(), name="calls")
    return host


def test_hook_register_scoring_conditions(tmp_path: Path, store, settings, h) -> None:  # type: ignore[no-untyped-def]
    host = _host()
    conditions = scoring_conditions(host)
    assert set(conditions) >= {"calls"}
    assert any(f.name == "broken" for f in host.failures)
    path = tmp_path / "sheet.csv"
    path.write_text("スコア種別,項目,条件,配点,ルール\n行動スコア,架電2回,,12,calls: 2\n行動スコア,メール開封,,5,\n",
                    encoding="utf-8")
    sheet = load_sheet(path, settings, conditions)
    assert sheet.has_plugin_conditions
    lead = Lead(key="p@x.jp", email="p@x.jp")
    calls = [h.act(f"c{i}", "p@x.jp", "call", NOW - timedelta(days=i + 1)) for i in range(2)]
    result = score_lead(sheet, lead, calls, NOW, settings)
    assert [(b.rule, b.points, b.evidence) for b in result.breakdown] == [("架電2回", 12, ["c1", "c0"])]  # activities in time order
    h.put_lead(store, lead)
    h.put_activities(store, calls + [h.act("o1", "p@x.jp", "email_open", NOW)])
    rescore(store, sheet, settings, NOW)
    assert load_score(store, "p@x.jp").total == 17  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="column ルール: plugin condition 'calls' rejected 'many'"):
        path.write_text("スコア種別,項目,条件,配点,ルール\n行動スコア,架電,,12,calls: many\n", encoding="utf-8")
        load_sheet(path, settings, conditions)


def test_scoring_conditions_accepts_a_bare_plugin_manager() -> None:
    host = _host()
    assert "calls" in scoring_conditions(host.pm)
    assert scoring_conditions(types.SimpleNamespace(pm=host.pm)) == scoring_conditions(host)
