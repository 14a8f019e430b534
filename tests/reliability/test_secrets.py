"""Secrets never reach logs, errors or --json output; rejected credentials end with exit 4."""

from __future__ import annotations

import json
import subprocess


def test_rejected_token_exits_4_without_printing_it(world_factory):
    world = world_factory()
    wrong = "pat-na1-WRONG-5e1d-do-not-print"
    env = {**world.env(), "LEADSYNC_CONNECTIONS__CRM__TOKEN": wrong}
    result = subprocess.run(world.command(), capture_output=True, text=True, timeout=60, env=env)
    summary = json.loads(result.stdout)
    assert result.returncode == 4 == summary["exit_status"]
    assert "crm" in summary["failures"]
    assert wrong not in result.stdout + result.stderr
    assert world.token not in result.stdout + result.stderr
    # Off a terminal, logs are JSON lines on stderr, and they name the failed connection.
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert any(entry["level"] == "error" and "crm" in entry["message"] for entry in lines)


def test_connections_list_masks_secrets(world_factory):
    world = world_factory()
    config = world.folder / "leadsync.toml"
    text = config.read_text(encoding="utf-8").replace('plugin = "hubspot"', f'plugin = "hubspot"\ntoken = "{world.token}"')
    config.write_text(text, encoding="utf-8")
    for args in (["connections", "list"], ["connections", "list", "--json"], ["connections", "check", "crm", "--json"]):
        result = subprocess.run(world.command()[:4] + args, capture_output=True, text=True, timeout=60, env=world.env())
        assert world.token not in result.stdout + result.stderr, args
