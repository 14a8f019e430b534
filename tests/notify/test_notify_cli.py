"""Notices end to end on the demo: one per handoff, none repeated, escalation once, run_failed once."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

SLACK = """[notify.channels.sales]
kind = "slack"
url = "{url}"
events = ["handoff_created", "handoff_overdue", "run_failed", "dead_letters"]
"""


def _slack(project, extra: str = "") -> None:
    project.configure(SLACK.format(url=project.slack_url) + extra)


def test_one_slack_message_per_handoff_none_repeated_on_rerun(project):
    _slack(project)
    summary, result = project.sync()
    assert summary["exit_status"] == 0, result.stderr[-2000:]
    assert summary["tasks_created"] > 0
    handoffs = project.handoffs()
    keys = project.hooks.slack_keys()
    assert sorted(keys) == sorted(f"notice:handoff_created:h{i}:sales" for i in handoffs)
    # Block Kit: a header with the lead, the score and the owner among the fields
    first = project.hooks.state["slack"][0]
    assert first["blocks"][0]["type"] == "header" and first["text"].startswith("新しいMQL")
    assert any("スコア" in f["text"] for f in first["blocks"][1]["fields"])
    assert project.hooks.slack_keys() == keys
    again, _ = project.sync()
    assert again["exit_status"] == 0
    assert project.hooks.slack_keys() == keys, "a rerun repeats no notice"
    assert "sEcReT" not in result.stdout + result.stderr


def test_an_overdue_handoff_escalates_once(project):
    _slack(project)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    project.sync("--as-of", now.isoformat())
    created = len(project.hooks.state["slack"])
    later = now + timedelta(days=5)  # every SLA (one business day) has passed, no first touch recorded
    summary, result = project.sync("--as-of", later.isoformat())
    assert summary["exit_status"] == 0, result.stderr[-2000:]
    overdue = [b for b in project.hooks.state["slack"][created:] if b["text"].startswith("SLA超過")]
    assert len(overdue) > 0
    keys = Counter(project.hooks.slack_keys())
    assert max(keys.values()) == 1
    project.sync("--as-of", (later + timedelta(hours=2)).isoformat())
    assert Counter(project.hooks.slack_keys()) == keys, "escalated once, not every run"
    assert "経過" not in overdue[0]["text"] and "未対応" in overdue[0]["text"]


def test_a_channel_that_is_down_never_fails_the_sync_and_catches_up(project):
    _slack(project)
    project.hooks.state["down"] = True
    summary, result = project.sync()
    assert summary["exit_status"] == 0, result.stderr[-2000:]
    assert project.hooks.state["slack"] == []
    assert "sEcReT" not in result.stderr
    project.hooks.state["down"] = False
    project.sync()
    handoffs = project.handoffs()
    assert sorted(project.hooks.slack_keys()) == sorted(f"notice:handoff_created:h{i}:sales" for i in handoffs)


def test_a_refused_url_is_dead_not_retried(project):
    project.configure(SLACK.format(url=f"{project.server.url}/services/T0/B0/wrong"))
    summary, _ = project.sync()
    assert summary["exit_status"] == 0
    statuses = Counter(status for _, status in project.notice_rows())
    assert statuses == {"dead": summary["tasks_created"]}


def test_teams_and_generic_webhook_bodies(project):
    project.configure(
        f'[notify.channels.teams]\nkind = "teams"\nurl = "{project.server.url}/workflows/abc"\n'
        f'events = ["handoff_created"]\nlanguage = "en"\n\n'
        f'[notify.channels.hook]\nkind = "webhook"\nurl = "{project.server.url}/generic"\nevents = ["handoff_created"]\n'
        '\n[notify]\nrecord_urls = {demo = "https://crm.example/leads/{record_id}"}\n')
    summary, result = project.sync()
    assert summary["exit_status"] == 0, result.stderr[-2000:]
    teams = project.hooks.state["teams"]
    assert len(teams) == summary["tasks_created"]
    card = teams[0]["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard" and card["body"][0]["text"].startswith("New MQL")
    assert card["actions"][0]["url"].startswith("https://crm.example/leads/")
    hooks = project.hooks.state["webhook"]
    assert len(hooks) == summary["tasks_created"]
    body = hooks[0]["body"]
    assert body["event"] == "handoff_created" and hooks[0]["headers"]["idempotency-key"] == body["key"]
    assert {"email", "company", "score", "reasons", "owner", "due_at", "record_url"} <= set(body["data"])


def test_notify_test_command(project):
    _slack(project)
    result = project.cli("notify", "test", "sales")
    assert result.returncode == 0, result.stderr
    assert project.hooks.state["slack"][0]["text"].startswith("leadsync テスト通知")
    unknown = project.cli("notify", "test", "nope")
    assert unknown.returncode == 2 and "nope" in unknown.stderr
    project.hooks.state["down"] = True
    down = project.cli("notify", "test", "sales")
    assert down.returncode == 4 and "503" in down.stderr
    assert "sEcReT" not in down.stdout + down.stderr


def test_a_bad_channel_table_is_a_config_error(project):
    project.configure('[notify.channels.x]\nkind = "pager"\n')
    result = project.cli("sync", "run")
    assert result.returncode == 2 and "notify.channels.x.kind" in result.stderr
