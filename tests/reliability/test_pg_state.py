"""The PostgreSQL state store: the project lock, projects side by side, readers during a run,
an unreachable server (exit 5, one line, no password), the demo twice, `projects list`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from leadsync.core.errors import EXIT_LOCKED, EXIT_STATE, LockHeld
from leadsync.core.state.pglock import AdvisoryRunLock

PG = pytest.mark.parametrize("state_backend", ["postgresql"], indirect=True)
PASSWORD = "pg-SECRET-7c1e-password"


def leadsync(folder, *args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "leadsync", "--config", str(folder / "leadsync.toml"), *args],
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "LEADSYNC_LOAD_PLUGINS": "", **(env or {})})


@PG
def test_a_second_lock_of_a_project_is_refused_at_once_and_other_projects_are_not(state_backend, tmp_path):
    acme, globex = state_backend.project("acme"), state_backend.project("globex")
    with AdvisoryRunLock(state_backend.target(acme)):
        with pytest.raises(LockHeld, match=f"project {acme}.*pid {os.getpid()}"):
            AdvisoryRunLock(state_backend.target(acme)).__enter__()
        with AdvisoryRunLock(state_backend.target(globex)):  # another project's run goes on
            pass
    with AdvisoryRunLock(state_backend.target(acme)):  # released on exit
        pass


@PG
def test_the_lock_of_a_killed_run_is_released_by_the_server(state_backend):
    project = state_backend.project()
    target = state_backend.target(project)
    code = (
        "import sys, time\nfrom pathlib import Path\nfrom leadsync.core.state.pglock import AdvisoryRunLock\n"
        "from leadsync.core.state.target import StateTarget\n"
        f"t = StateTarget(path=Path('x'), url={target.url!r}, project={project!r})\n"
        "with AdvisoryRunLock(t):\n    print('held', flush=True); time.sleep(120)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "held"
    with pytest.raises(LockHeld):
        AdvisoryRunLock(target).__enter__()
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    for _ in range(200):  # the server notices the closed socket; no timing is asserted
        try:
            with AdvisoryRunLock(target):
                break
        except LockHeld:
            time.sleep(0.05)
    else:
        raise AssertionError("the killed run's lock was never released")


@PG
def test_two_projects_run_at_once_on_one_database_and_a_second_run_of_one_exits_3(world_factory, state_backend):
    acme = world_factory("acme", latency=0.03)
    globex = world_factory("globex", latency=0.03)
    first, second = acme.start(), globex.start()
    time.sleep(1.0)  # past start-up: both hold their projects' locks
    again = acme.run()
    assert again.returncode == EXIT_LOCKED, again.stderr
    assert f"project {acme.project}" in again.stderr
    for process in (first, second):
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-2000:]
        assert json.loads(out)["tasks_created"] > 0
    # each project sees its own rows only
    for world in (acme, globex):
        store = world.store()
        try:
            assert store.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1
        finally:
            store.close()


@PG
def test_a_long_reader_never_blocks_a_run(world_factory):
    world = world_factory(latency=0.01)
    assert world.summary(world.run())["exit_status"] == 0
    world.update_contact(world.app.records("contacts")[0]["id"], {"jobtitle": "代表取締役社長"})
    reader = world.store()
    reader.db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
    before = reader.db.execute("SELECT COUNT(*), MAX(id) FROM runs").fetchone()
    for table in ("leads", "scores", "outbox", "handoffs", "cursors"):  # read every table a run writes
        reader.db.execute(f"SELECT * FROM {table}").fetchall()
    try:
        run = world.run(timeout=300)  # the reader's transaction stays open throughout
        assert run.returncode == 0, run.stderr[-2000:]
        status = subprocess.run(world.command()[:5] + ["sync", "status", "--json"], capture_output=True,
                                text=True, timeout=120, env=world.env())
        assert status.returncode == 0, status.stderr
        assert reader.db.execute("SELECT COUNT(*), MAX(id) FROM runs").fetchone() == before  # its snapshot
    finally:
        reader.db.execute("COMMIT")
        reader.close()
    store = world.store()
    try:
        assert store.db.execute("SELECT COUNT(*) FROM runs WHERE status = 'ok'").fetchone()[0] == 2
    finally:
        store.close()


def _demo(tmp_path, toml_state: str):
    from leadsync.core.cli.main import cli
    from click.testing import CliRunner

    folder = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["init", "--demo", str(folder), "--force"])
    assert result.exit_code == 0, result.output
    config = folder / "leadsync.toml"
    lines = toml_state.replace("[state]\n", "")  # into the file's own [state] section
    config.write_text(config.read_text(encoding="utf-8").replace("[state]\n", "[state]\n" + lines, 1), encoding="utf-8")
    return folder


@PG
def test_the_demo_runs_twice_on_postgresql_and_the_second_run_writes_nothing(state_backend, tmp_path):
    project = state_backend.project("demo")
    folder = _demo(tmp_path, state_backend.toml(project))
    assert not (folder / ".leadsync").exists()
    preview = leadsync(folder, "handoff", "preview", "--format", "json")
    assert preview.returncode == 0, preview.stderr
    first = leadsync(folder, "sync", "run", "--json")
    assert first.returncode == 0, first.stderr[-2000:]
    summary = json.loads(first.stdout)
    assert summary["tasks_created"] > 0 and summary["scores_pushed"] == summary["scored"] == 300
    store = state_backend.open(project)
    counts = lambda: store.db.execute(  # noqa: E731
        "SELECT (SELECT COUNT(*) FROM outbox), (SELECT COUNT(*) FROM handoffs), (SELECT COUNT(*) FROM score_history), "
        "(SELECT COUNT(*) FROM activities), (SELECT COUNT(*) FROM dead_letters)").fetchone()
    try:
        before = tuple(counts())
        second = json.loads(leadsync(folder, "sync", "run", "--json").stdout)
        assert (second["exit_status"], second["scored"], second["tasks_created"], second["scores_pushed"],
                second["tasks_planned"], second["scores_planned"]) == (0, 0, 0, 0, 0, 0)
        assert tuple(counts()) == before
    finally:
        store.close()
    assert not (folder / ".leadsync").exists(), "nothing was written to the SQLite default"
    listed = json.loads(leadsync(folder, "projects", "list", "--json").stdout)
    mine = [p for p in listed["projects"] if p["project"] == project]
    assert len(mine) == 1 and mine[0]["current"] and mine[0]["last_run"]["status"] == "ok"
    assert mine[0]["last_run"]["id"] == 2 and mine[0]["last_run"]["counts"]["tasks_created"] == 0


def test_projects_list_on_sqlite_is_the_one_project(tmp_path):
    folder = _demo(tmp_path, '[state]\nproject = "solo"\n')
    assert leadsync(folder, "sync", "run", "--quiet").returncode == 0
    listed = json.loads(leadsync(folder, "projects", "list", "--json").stdout)
    assert listed["backend"] == "sqlite"
    assert [(p["project"], p["last_run"]["status"], p["last_run"]["counts"]["scored"]) for p in listed["projects"]] \
        == [("solo", "ok", 300)]


@pytest.mark.parametrize("url", [
    f"postgresql://leadsync:{PASSWORD}@127.0.0.1:1/postgres",   # nobody listens
    f"postgresql://leadsync:{PASSWORD}@[::1:bad/postgres",       # not a URL
])
def test_an_unreachable_server_is_exit_5_in_one_line_without_the_password(tmp_path, url):
    folder = _demo(tmp_path, "")
    env = {"LEADSYNC_STATE__URL": url, "PGPASSWORD": PASSWORD}
    for args in (["sync", "run"], ["sync", "run", "--json"], ["sync", "status", "--json"], ["handoff", "preview"],
                 ["projects", "list", "--json"]):
        result = leadsync(folder, *args, env=env)
        assert result.returncode == EXIT_STATE, (args, result.returncode, result.stderr[-2000:])
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
        assert PASSWORD not in result.stdout + result.stderr
        assert "PostgreSQL" in lines[0]
    doctor = leadsync(folder, "doctor", "--json", env=env)
    assert doctor.returncode == EXIT_STATE and PASSWORD not in doctor.stdout + doctor.stderr
    assert not (folder / ".leadsync").exists()


@PG
def test_a_missing_database_is_exit_5_and_the_password_file_is_never_printed(state_backend, tmp_path):
    secret = tmp_path / "pg-password"
    secret.write_text(PASSWORD + "\n", encoding="utf-8")
    base = state_backend.url.rsplit("/", 1)[0]
    folder = _demo(tmp_path, f'[state]\nurl = "{base}/no_such_db"\npassword_file = "{secret}"\n')
    result = leadsync(folder, "sync", "run")
    assert result.returncode == EXIT_STATE and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "no_such_db" in result.stderr and PASSWORD not in result.stderr
    # the right database: the password is used (the test server trusts everyone) and shown nowhere
    config = folder / "leadsync.toml"
    config.write_text(config.read_text(encoding="utf-8").replace("/no_such_db", "/postgres").replace(
        "[state]\n", f'[state]\nproject = "{state_backend.project()}"\n', 1), encoding="utf-8")
    outputs = [leadsync(folder, *args) for args in (["sync", "run", "--json"], ["sync", "status", "--json"],
                                                    ["doctor", "--json"], ["projects", "list", "--json"], ["-vv", "sync", "run"])]
    assert [r.returncode for r in outputs][:4] == [0, 0, 0, 0], [r.stderr[-500:] for r in outputs]
    for r in outputs:
        assert PASSWORD not in r.stdout + r.stderr


def test_a_bad_project_name_or_url_is_a_configuration_error(tmp_path):
    folder = _demo(tmp_path, '[state]\nproject = "Acme; DROP SCHEMA"\n')
    result = leadsync(folder, "sync", "run")
    assert result.returncode == 2 and "[state] project" in result.stderr
    folder2 = tmp_path / "two"
    folder2.mkdir()
    (folder2 / "leadsync.toml").write_text('[state]\nurl = "mysql://x@y/z"\n', encoding="utf-8")
    result = leadsync(folder2, "sync", "status")
    assert result.returncode == 2 and "postgresql://" in result.stderr


@PG
def test_a_run_whose_lock_session_was_dropped_stops_before_writing(state_backend):
    import psycopg

    from leadsync.core.errors import StateStoreError
    from leadsync.core.state import kv

    project = state_backend.project()
    with AdvisoryRunLock(state_backend.target(project)) as lock:
        store = state_backend.open(project)
        store.lock = lock
        try:
            with store.transaction() as db:
                kv.put(db, "k", 1)
            with psycopg.connect(state_backend.url, autocommit=True) as admin:  # the lock's session is dropped
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                              (f"leadsync run {project} pid {os.getpid()}",))
            with pytest.raises(StateStoreError, match="run lock was lost"):
                with store.transaction() as db:
                    kv.put(db, "k", 2)
            assert store.kv_get("k") == 1
        finally:
            store.close()


@PG
def test_leadsync_state_readonly_opens_a_postgresql_project_read_only(state_backend, monkeypatch):
    from leadsync.core.errors import StateStoreError
    from leadsync.core.state import kv

    project = state_backend.project()
    state_backend.open(project).close()  # created and migrated
    monkeypatch.setenv("LEADSYNC_STATE_READONLY", "1")
    store = state_backend.open(project)  # a writable open, forced read-only: no write, no error
    try:
        assert store.kv_get("k") is None
        with pytest.raises(StateStoreError, match="read-only"):
            with store.transaction() as db:
                kv.put(db, "k", 1)
    finally:
        store.close()
