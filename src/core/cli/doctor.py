"""`leadsync doctor`: configuration, sheet, calendar, state store, connections, owners and plugins in one report.

Exit status: 2 when the configuration or the scoring sheet is wrong, else 5 when the state store
cannot be used, else 4 when a connection check fails, else 0 (warnings do not change it).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

import click

from leadsync.core.cli.app import App, pass_app
from leadsync.core.cli.output import echo_json, print_table
from leadsync.core.errors import EXIT_CONFIG, EXIT_CONNECTION, EXIT_OK, EXIT_STATE, LeadsyncError
from leadsync.core.state import dead_letters, runs

__all__ = ["doctor"]

OK, WARNING, FAILED = "ok", "warning", "FAILED"
_EXIT_OF_AREA = {"config": EXIT_CONFIG, "sheet": EXIT_CONFIG, "calendar": EXIT_CONFIG,
                 "state": EXIT_STATE, "connection": EXIT_CONNECTION}


@dataclass
class Finding:
    area: str
    name: str
    status: str
    detail: str


def _config(app: App, out: list[Finding]) -> bool:
    try:
        settings = app.settings
    except LeadsyncError as exc:
        out.append(Finding("config", "leadsync.toml", FAILED, str(exc)))
        return False
    out.append(Finding("config", str(settings.config_path), OK,
                       f"{len(settings.connections)} connection(s); times in {settings.scoring.timezone}"))
    return True


def _sheet(app: App, out: list[Finding]) -> None:
    from leadsync.core.scoring import load_configured_sheet
    from leadsync.core.scoring.lint import lint_sheet

    try:
        sheet = load_configured_sheet(app.settings, app.host)
    except LeadsyncError as exc:
        out.append(Finding("sheet", str(app.settings.sheet_path), FAILED, str(exc)))
        return
    findings = lint_sheet(sheet)
    detail = f"version {sheet.version}" + (f"; {len(findings)} lint finding(s): `leadsync score lint`" if findings else "")
    out.append(Finding("sheet", str(sheet.path), WARNING if findings else OK, detail))


def _calendar(app: App, out: list[Finding]) -> None:
    from leadsync.core.handoff.calendar import BusinessCalendar

    settings = app.settings
    try:
        calendar = BusinessCalendar.from_settings(settings.handoff, settings.scoring.timezone)
        due = calendar.due(datetime.now(timezone.utc))
    except LeadsyncError as exc:
        out.append(Finding("calendar", "handoff", FAILED, str(exc)))
        return
    out.append(Finding("calendar", "handoff", OK, f"a handoff made now is due {due.strftime('%Y-%m-%d %H:%M %Z')}"))


def _pg_state(app: App, out: list[Finding]) -> None:
    """The PostgreSQL store: server, schema and version, write rights, lock, then the runs."""
    from leadsync.core.state.projects import pg_health
    from leadsync.core.state.target import open_store

    target = app.settings.state_target
    name = target.describe()
    try:
        checks = pg_health(target)
    except LeadsyncError as exc:
        out.append(Finding("state", name, FAILED, str(exc)))
        return
    failed = [what for ok, what in checks if not ok]
    if failed or len(checks) < 3:
        out.append(Finding("state", name, FAILED if failed else OK, "; ".join(what for _, what in checks)))
        return
    try:
        store = open_store(target, readonly=True)
        try:
            dead = dead_letters.open_count(store.db)
            last = runs.last(store.db)
        finally:
            store.close()
    except LeadsyncError as exc:
        out.append(Finding("state", name, FAILED, f"cannot be read: {exc}"))
        return
    run = f"last run {last[0]}: {last[1]}" if last else "no run yet"
    detail = "; ".join(what for _, what in checks) + f"; {run}; {dead} dead letter(s)"
    status = WARNING if dead or (last and last[1] not in ("ok",)) else OK
    out.append(Finding("state", name, status, detail))


def _state(app: App, out: list[Finding]) -> None:
    from leadsync.core.state.store import StateStore

    if app.settings.state_target.is_postgres:
        _pg_state(app, out)
        return
    path = app.settings.state_path
    if not path.exists():
        folder = next((p for p in [path.parent, *path.parents] if p.exists()), path.parent)
        if not os.access(folder, os.W_OK):
            out.append(Finding("state", str(path), FAILED, f"not created yet, and {folder} is not writable"))
        else:
            out.append(Finding("state", str(path), OK, "not created yet; the first `leadsync sync run` creates it"))
        return
    try:
        store = StateStore(path, readonly=True)
    except Exception as exc:
        out.append(Finding("state", str(path), FAILED, f"cannot be opened: {exc}"))
        return
    try:
        problems = store.integrity_problems()
        if problems:
            out.append(Finding("state", str(path), FAILED, "; ".join(problems[:3])))
            return
        if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
            out.append(Finding("state", str(path), FAILED, "read-only: runs cannot record anything"))
            return
        dead = dead_letters.open_count(store.db)
        last = runs.last(store.db)
    except Exception as exc:
        out.append(Finding("state", str(path), FAILED, f"cannot be read: {exc}"))
        return
    finally:
        store.close()
    run = f"last run {last[0]}: {last[1]}" if last else "no run yet"
    detail = f"integrity ok; {run}; {dead} dead letter(s)"
    status = WARNING if dead or (last and last[1] not in ("ok",)) else OK
    if dead:
        detail += " (`leadsync sync status`)"
    out.append(Finding("state", str(path), status, detail))


def _connections(app: App, out: list[Finding]) -> None:
    from leadsync.core.sync.connections import open_connection

    if not app.settings.connections:
        out.append(Finding("connection", "-", WARNING, "no [connections.NAME] configured: nothing to sync"))
    for name in app.settings.connections:
        try:
            connector = open_connection(app.settings, app.host, name)
        except LeadsyncError as exc:
            out.append(Finding("config", f"connections.{name}", FAILED, str(exc)))
            continue
        try:
            result = connector.check()
            failed = [f"{what}: {detail}" for what, ok, detail in result.items if not ok]
            passed = [what for what, ok, _ in result.items if ok]
            if result.ok:
                out.append(Finding("connection", name, OK, ", ".join(passed) or "ok"))
            else:
                out.append(Finding("connection", name, FAILED, "; ".join(failed) or "check failed"))
        except Exception as exc:
            out.append(Finding("connection", name, FAILED, f"{type(exc).__name__}: {exc}"))
        finally:
            connector.close()


def _owners(app: App, out: list[Finding]) -> None:
    from leadsync.core.sync.connections import task_connection

    handoff = app.settings.handoff
    receiver = task_connection(app.settings)
    if receiver is None:
        out.append(Finding("owners", "handoff", WARNING, "no connection has the tasks role: no handoff is made"))
    elif handoff.owners or handoff.routing:
        out.append(Finding("owners", "handoff", OK,
                           f"{len(handoff.owners)} owner(s) in round robin, {len(handoff.routing)} routing rule(s)"))
    else:
        out.append(Finding("owners", "handoff", WARNING,
                           "handoff.owners is empty: leads without an owner in the CRM get tasks with no owner"))


def _plugins(app: App, out: list[Finding]) -> None:
    from leadsync import __version__

    for name, _plugin in sorted(app.host.pm.list_name_plugin(), key=lambda item: item[0]):
        dist, version = app.host.dists.get(name, ("leadsync (built-in)", __version__))
        out.append(Finding("plugin", name, OK, f"{dist} {version}"))
    for failure in app.host.failures:
        dist, version = app.host.dists.get(failure.name, (failure.name, "unknown"))
        out.append(Finding("plugin", failure.name, WARNING, f"{dist} {version} failed to load: {failure.error}"))


def diagnose(app: App) -> tuple[list[Finding], int]:
    """Every finding, and the exit status they call for."""
    findings: list[Finding] = []
    if _config(app, findings):
        for step in (_sheet, _calendar, _state, _connections, _owners):
            step(app, findings)
    _plugins(app, findings)
    failed = {_EXIT_OF_AREA.get(f.area, EXIT_CONFIG) for f in findings if f.status == FAILED}
    status = next((code for code in (EXIT_CONFIG, EXIT_STATE, EXIT_CONNECTION) if code in failed), EXIT_OK)
    return findings, status


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def doctor(app: App, as_json: bool) -> None:
    """Check everything a run needs, in one report. Exit 2 config/sheet, 5 state store, 4 connection, else 0."""
    findings, status = diagnose(app)
    if as_json:
        echo_json({"ok": status == EXIT_OK, "exit_status": status, "checks": [asdict(f) for f in findings]})
    else:
        print_table("leadsync doctor", ["area", "name", "status", "detail"],
                    [(f.area, f.name, f.status, f.detail) for f in findings])
    bad = [f for f in findings if f.status == FAILED]
    first = f"; exit {status}: {bad[0].area} {bad[0].name}: {bad[0].detail}" if bad else ""
    click.echo(f"doctor: {len(bad)} problem(s), {sum(f.status == WARNING for f in findings)} warning(s){first}",
               err=True)
    click.get_current_context().exit(status)
