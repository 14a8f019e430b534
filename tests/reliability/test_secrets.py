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
        # python -m leadsync --config FILE, then the command
        result = subprocess.run(world.command()[:5] + args, capture_output=True, text=True, timeout=60, env=world.env())
        assert result.returncode == 0, (args, result.stderr[-2000:])
        assert "crm" in result.stdout, args  # the command really ran against the project
        assert world.token not in result.stdout + result.stderr, args


# Secrets of every kind a vendor answer can echo, none of them registered with leadsync: the
# redactor must recognise them by shape or by the name they are given.
ECHOED = {
    "hubspot token": "pat-na1-7c1d2e3f-aaaa-bbbb-cccc-0123456789ab",
    "client secret": "cs-4f8a9b0c1d2e3f4a5b6c",
    "refresh token": "rt-na1-9a8b7c6d-5e4f-3a2b-1c0d",
    "password": "Hunter2-Correct-Horse",
    "salesforce session": "00D5g000004abcdE!AQ0AQH0dMHZfz972Szmpkb58urFRkgeBGsxL_QJWwYMfAbUeeG7c1E6LYU",
    "slack webhook": "T0001/B0002/XyZsEcReTwEbHoOk123",
    "teams sig": "q1W2e3R4t5Y6u7I8o9P0aSdFgHjKl",
    "basic auth": "basicAuthPassw0rd",
}


def _echo_body(request) -> dict:
    """A HubSpot 400 that echoes the request, as some of its errors do, plus every secret kind."""
    return {
        "status": "error",
        "category": "VALIDATION_ERROR",
        "message": (
            f"Invalid input. Request headers: Authorization: {request.headers.get('authorization')}; "
            f"client_secret={ECHOED['client secret']}&refresh_token={ECHOED['refresh token']} "
            f"password: {ECHOED['password']} sid {ECHOED['salesforce session']} "
            f"token {ECHOED['hubspot token']} "
            f"hook https://hooks.slack.com/services/{ECHOED['slack webhook']} "
            "flow https://prod-01.japaneast.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke"
            f"?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={ECHOED['teams sig']} "
            f"proxy https://svc:{ECHOED['basic auth']}@proxy.example.com/"
        ),
        "context": {"Authorization": [request.headers.get("authorization")], "password": [ECHOED["password"]]},
        "correlationId": "0b4f7e3e-0000-4000-8000-000000000000",
    }


def test_secrets_echoed_by_the_vendor_reach_no_store_output_or_log(world_factory):
    from leadsync.connectors.testing.fakeserver import Response

    world = world_factory()
    original = world.app.match

    def echoing(request):
        if request.path.endswith(("/contacts/batch/update", "/tasks/batch/create")):
            return Response(400, json=_echo_body(request))
        return original(request)

    world.app.match = echoing
    # A bad MA row carrying a secret in a column: its dead-letter payload is redacted as well.
    leads = world.folder / "data" / "leads.csv"
    header = leads.read_text(encoding="utf-8-sig").splitlines()[0]
    with leads.open("a", encoding="utf-8") as handle:
        handle.write("not-an-address," + ",".join(
            [f"password={ECHOED['password']} https://hooks.slack.com/services/{ECHOED['slack webhook']}"]
            + [""] * (header.count(",") - 1)) + "\n")
    first = world.run()
    assert world.summary(first)["dead_lettered"] > 0, first.stdout
    world.app.match = lambda request: (Response(403, json=_echo_body(request)) if "/contacts" in request.path
                                       else original(request))
    second = world.run()
    assert world.summary(second)["exit_status"] == 4
    status = subprocess.run(world.command()[:5] + ["sync", "status", "--json"], capture_output=True, text=True,
                            timeout=60, env=world.env())
    assert status.returncode == 0, status.stderr
    stored = _every_stored_text(world.folder / "state" / "state.db")
    printed = first.stdout + first.stderr + second.stdout + second.stderr + status.stdout + status.stderr
    assert "dead_letters" in status.stdout and "Invalid input" in stored
    for kind, secret in {**ECHOED, "configured token": world.token}.items():
        assert secret not in stored, f"{kind} in the state store"
        assert secret not in printed, f"{kind} printed or logged"


def _every_stored_text(path) -> str:
    import sqlite3

    db = sqlite3.connect(path)
    tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return "\n".join(str(value) for table in tables for row in db.execute(f"SELECT * FROM {table}") for value in row)
