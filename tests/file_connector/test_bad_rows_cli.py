"""One bad row does not block an import, and is dead-lettered once, not on every run."""

from __future__ import annotations

import json
import sqlite3

from leadsync.connectors.testing.project import demo_project


def _dead_letters(project) -> list[tuple]:
    db = sqlite3.connect(project.folder / "state" / "state.db")
    return db.execute("SELECT record_key, reason, requeued_at IS NOT NULL FROM dead_letters ORDER BY id").fetchall()


def test_a_megabyte_cell_and_a_shift_jis_row_are_dead_lettered_with_position_and_the_rest_imported(tmp_path):
    project = demo_project(tmp_path, None, leads=30, activities=200)
    leads = project.folder / "data" / "leads.csv"
    lines = leads.read_bytes().split(b"\r\n") if b"\r\n" in leads.read_bytes() else leads.read_bytes().split(b"\n")
    newline = b"\r\n" if b"\r\n" in leads.read_bytes() else b"\n"
    header, rows = lines[0], [line for line in lines[1:] if line]
    columns = header.decode("utf-8-sig").split(",")
    width = len(columns)
    huge = b"big@example.jp" + b"," + b"x" * 1_048_576 + b"," * (width - 2)
    sjis = "sjis@example.jp,株式会社シフト".encode("cp932") + b"," * (width - 2)
    body = [header, *rows[:10], huge, *rows[10:20], sjis, *rows[20:]]
    leads.write_bytes(newline.join(body) + newline)

    first = project.run()
    assert first["exit_status"] == 1 and first["dead_lettered"] == 2
    assert first["pulled"]["ma"]["leads"] == len(rows) + 2
    keys = {key: reason for key, reason, _ in _dead_letters(project)}
    assert set(keys) == {"leads.csv:12", "leads.csv:23"}
    assert "more than the 32,767 a cell may hold" in keys["leads.csv:12"]
    offset = len(newline.join(body[:22]) + newline) + len("sjis@example.jp,")
    assert f"byte {offset}" in keys["leads.csv:23"] and "cannot decode as UTF-8" in keys["leads.csv:23"]
    db = sqlite3.connect(project.folder / "state" / "state.db")
    assert db.execute("SELECT COUNT(*) FROM leads").fetchone()[0] == len(rows)

    # Another row changes: the file is read again, the same bad rows are not dead-lettered again.
    body[1] = body[1].replace(b"@", b"+x@", 1)
    leads.write_bytes(newline.join(body) + newline)
    second = project.run()
    assert second["exit_status"] == 1  # still there and not acknowledged
    assert len(_dead_letters(project)) == 2

    # Acknowledged: the next read skips them, exit 0; nothing new is stored.
    assert project.invoke("sync", "requeue", "--all").exit_code == 0
    third = project.run()
    assert third["exit_status"] == 0, third
    assert len(_dead_letters(project)) == 2
    status = json.loads(project.invoke("sync", "status", "--json").stdout)
    assert status["dead_letters_total"] == 0
