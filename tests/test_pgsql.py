"""The PostgreSQL forms of the state layer's SQLite statements (no server needed)."""

from __future__ import annotations

from leadsync.core.state.pg import redact
from leadsync.core.state.pgsql import translate
from leadsync.core.state.target import default_project, project_name

import pytest
from pathlib import Path


def test_placeholders_and_percent_signs_outside_and_inside_literals():
    assert translate("SELECT a FROM t WHERE b = ? AND c LIKE '%?%' AND d % 7 = ?") == \
        "SELECT a FROM t WHERE b = %s AND c LIKE '%%?%%' AND d %% 7 = %s"
    assert translate("CREATE INDEX x ON t(a) WHERE b = '%'", False) == "CREATE INDEX x ON t(a) WHERE b = '%'"


def test_insert_or_ignore_and_is_parameter():
    assert translate("INSERT OR IGNORE INTO t(a) VALUES (?)") == "INSERT INTO t(a) VALUES (%s) ON CONFLICT DO NOTHING"
    assert translate("SELECT 1 FROM t WHERE k IS ?") == "SELECT 1 FROM t WHERE k IS NOT DISTINCT FROM %s"


def test_temporary_tables_keep_double_precision_times():
    assert "scored_at DOUBLE PRECISION" in translate("CREATE TEMP TABLE x (scored_at REAL)", False)
    assert translate("SELECT 'REAL' FROM t WHERE a = ?") == "SELECT 'REAL' FROM t WHERE a = %s"


def test_the_password_is_never_in_a_described_url(monkeypatch):
    monkeypatch.setenv("PGPASSWORD", "env-secret-123")
    assert redact("postgresql://u:p%40ss-word@h:5/db") == "postgresql://u:***@h:5/db"
    assert "env-secret-123" not in redact("FATAL: password env-secret-123 rejected")
    assert redact("host=h password=abc123 dbname=x") == "host=h password=*** dbname=x"


def test_project_names():
    assert project_name("acme_2") == "acme_2"
    for bad in ("Acme", "1acme", "a-b", "a" * 41, "x; DROP SCHEMA public"):
        with pytest.raises(Exception, match=r"\[state\] project"):
            project_name(bad)
    one, two = default_project(Path("/srv/アクメ 株式会社/leadsync.toml")), default_project(Path("/srv/b/leadsync.toml"))
    assert project_name(one) == one and one != two
    assert default_project(Path("/srv/b/leadsync.toml")) == two  # stable
    assert default_project(Path("/x/acme/leadsync.toml")).startswith("acme_")
