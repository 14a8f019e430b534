"""The projects of a state database and their last runs (`leadsync projects list`), and the
PostgreSQL side of `leadsync doctor`."""

from __future__ import annotations

import json
from typing import Any

from leadsync.core.state.pg import connect
from leadsync.core.state.pg_migrations import PG_MIGRATIONS
from leadsync.core.state.pgstore import RUN_LOCK
from leadsync.core.state.target import SCHEMA_PREFIX, StateTarget, open_store

__all__ = ["COUNTS", "drop_project", "list_projects", "pg_health"]

# The counts of a run's summary that a project listing shows.
COUNTS = ("pulled", "scored", "tasks_created", "scores_pushed", "dead_lettered")


def _last_run(row: Any) -> dict[str, Any] | None:
    if row is None:
        return None
    summary = json.loads(row[4]) if row[4] else {}
    pulled = summary.get("pulled")
    if isinstance(pulled, dict):  # {connection: {stream: n}} -> the total
        summary["pulled"] = sum(n for streams in pulled.values() for n in streams.values())
    return {"id": int(row[0]), "status": str(row[1]), "started_at": row[2], "finished_at": row[3],
            "exit_status": row[5], "counts": {name: summary.get(name) for name in COUNTS if name in summary}}


_LAST_RUN = "SELECT id, status, started_at, finished_at, summary, exit_status FROM {runs} ORDER BY id DESC LIMIT 1"


def list_projects(target: StateTarget) -> list[dict[str, Any]]:
    """[{project, schema, running, last_run}] of every project in the database, by name.

    On SQLite: the configuration's one project. `running` says whether a run holds its lock now.
    """
    if not target.is_postgres:
        if not target.path.exists():
            return [{"project": target.project, "schema": None, "running": None, "last_run": None}]
        store = open_store(target, readonly=True)
        try:
            row = store.db.execute(_LAST_RUN.format(runs="runs")).fetchone()
        finally:
            store.close()
        return [{"project": target.project, "schema": None, "running": None, "last_run": _last_run(row)}]
    db = connect(target.url or "", password=target.password, schema=None, application="leadsync projects",
                 readonly=True, where=target.describe())
    try:
        schemas = [r[0] for r in db.execute(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'runs' "
            "AND table_schema LIKE ? ORDER BY table_schema", (SCHEMA_PREFIX.replace("_", r"\_") + "%",))]
        held = {r[0] for r in db.execute(
            "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND classid = ? AND granted", (RUN_LOCK,))}
        out = []
        for schema in schemas:
            row = db.execute(_LAST_RUN.format(runs=f'"{schema}".runs')).fetchone()
            lock_key = db.execute("SELECT hashtext(?)::oid", (schema,)).fetchone()[0]
            out.append({"project": schema[len(SCHEMA_PREFIX):], "schema": schema, "running": lock_key in held,
                        "last_run": _last_run(row)})
        return out
    finally:
        db.close()


def pg_health(target: StateTarget) -> list[tuple[bool, str]]:
    """(ok, what) of each check of a PostgreSQL state store: the server answers, the project's
    schema and its version, the right to write, whether a run holds the project's lock now."""
    db = connect(target.url or "", password=target.password, schema=None, application="leadsync doctor",
                 where=target.describe())
    try:
        found: list[tuple[bool, str]] = []
        version = db.execute("SHOW server_version").fetchone()[0]
        found.append((True, f"PostgreSQL {version} answers"))
        exists = db.execute("SELECT 1 FROM pg_namespace WHERE nspname = ?", (target.schema,)).fetchone()
        if exists is None:
            can = db.execute("SELECT has_database_privilege(current_database(), 'CREATE')").fetchone()[0]
            found.append((bool(can), f"schema {target.schema} not created yet; " + (
                "the first `leadsync sync run` creates it" if can else "and this user may not create schemas")))
            return found
        can = db.execute("SELECT has_schema_privilege(?, 'CREATE') AND has_schema_privilege(?, 'USAGE')",
                         (target.schema, target.schema)).fetchone()[0]
        if not can:
            found.append((False, f"this user may not write schema {target.schema}"))
        tables = db.execute("SELECT 1 FROM pg_tables WHERE schemaname = ? AND tablename = 'schema_version'",
                            (target.schema,)).fetchone()
        schema_version = 0
        if tables:
            schema_version = db.execute(f'SELECT MAX(version) FROM "{target.schema}".schema_version').fetchone()[0] or 0
        if schema_version > len(PG_MIGRATIONS):
            found.append((False, f"schema version {schema_version} is newer than this leadsync ({len(PG_MIGRATIONS)})"))
        else:
            found.append((True, f"schema {target.schema} at version {schema_version} of {len(PG_MIGRATIONS)}"))
        running = db.execute(
            "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = ? AND objid = hashtext(?)::oid "
            "AND granted", (RUN_LOCK, target.schema)).fetchone()[0]
        found.append((True, "a run holds the project's lock now" if running else "no run holds the project's lock"))
        return found
    finally:
        db.close()


def drop_project(target: StateTarget) -> None:
    """Remove a PostgreSQL project's schema and everything in it (benchmarks and tests clean up so)."""
    db = connect(target.url or "", password=target.password, schema=None, application="leadsync drop",
                 where=target.describe())
    try:
        db.execute(f'DROP SCHEMA IF EXISTS "{target.schema}" CASCADE')
    finally:
        db.close()
