"""Every SQL statement leadsync runs lives in src/core/state/ (docs/architecture.md, "State layer").

Walks the string literals (f-string parts included) of every module of src/ and bench/ and fails on
one that starts like an SQL statement outside the state package. The allow-list names what is SQL
but not ours to move, with the reason.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATE = ROOT / "src" / "core" / "state"
SQL = re.compile(
    r"^\s*(SELECT\s+\S|INSERT\s+(OR\s+\w+\s+)?INTO\b|UPDATE\s+\w+\s+SET\b|DELETE\s+FROM\b|REPLACE\s+INTO\b"
    r"|CREATE\s+(TEMP\s+|TEMPORARY\s+|UNIQUE\s+)?(TABLE|INDEX|VIEW|TRIGGER)\b|DROP\s+(TABLE|INDEX)\b"
    r"|ALTER\s+TABLE\b|PRAGMA\s+\w|BEGIN(\s+IMMEDIATE|\s+EXCLUSIVE)?\s*$|COMMIT\s*$|ROLLBACK\s*$|VACUUM\b)"
)
ALLOWED = {
    # The dlt contender of the pull benchmark counts rows in its own DuckDB, not in our store.
    "bench/contenders.py",
    # The DuckDB baseline of the scoring bench (c) queries its own in-memory DuckDB, not our store.
    "bench/duckdb_baseline.py",
}


def sql_literals(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return sorted({node.lineno for node in ast.walk(tree)
                   if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value)})


def modules() -> list[Path]:
    return sorted(p for top in ("src", "bench") for p in (ROOT / top).rglob("*.py"))


def test_the_detector_sees_sql_and_not_http_methods():
    assert SQL.search("SELECT data FROM leads WHERE key = ?")
    assert SQL.search("INSERT OR IGNORE INTO handoffs(lead_key) VALUES (?)")
    assert SQL.search("UPDATE outbox SET status = 'dead'")
    assert SQL.search("PRAGMA user_version")
    assert SQL.search("ROLLBACK")
    assert not SQL.search("DELETE") and not SQL.search("UPDATE") and not SQL.search("Select the owner of a lead")


def test_no_sql_outside_the_state_package():
    found = {}
    for path in modules():
        rel = path.relative_to(ROOT).as_posix()
        if path.is_relative_to(STATE) or rel in ALLOWED:
            continue
        lines = sql_literals(path)
        if lines:
            found[rel] = lines
    assert found == {}, f"SQL outside src/core/state/ (add a named operation there instead): {found}"


def test_the_state_package_holds_the_sql():
    holders = {p.stem for p in STATE.glob("*.py") if sql_literals(p)}
    assert {"leads", "activities", "scores", "handoffs", "outbox", "dead_letters", "runs", "kv", "migrations"} <= holders


def test_the_allow_list_is_still_needed():
    stale = [rel for rel in ALLOWED if (ROOT / rel).exists() and not sql_literals(ROOT / rel)]
    assert stale == []
