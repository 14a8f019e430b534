"""Excel's "Unicode Text" (UTF-16 LE with a BOM, tab-separated) and UTF-16 CSV are read like CSV UTF-8;
a workbook or BOM-less UTF-16 is named for what it is (issue 14: 15)."""

from __future__ import annotations

import csv
import io
import sqlite3

import pytest

from leadsync.connectors.testing.project import demo_project


def _counts(project) -> tuple[int, int, int]:
    db = sqlite3.connect(project.folder / "state" / "state.db")
    return tuple(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # type: ignore[return-value]
                 for table in ("leads", "activities", "scores"))


def _resave(path, encoding: str, delimiter: str) -> None:
    """As Excel saves it: the same cells, another encoding and separator."""
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))  # "utf-16" writes a BOM (LE on this machine)


@pytest.mark.parametrize("encoding,delimiter", [("utf-16-le-bom", "\t"), ("utf-16", ","), ("utf-16-be-bom", "\t")])
def test_unicode_text_exports_import_exactly_like_csv_utf8(tmp_path, encoding, delimiter):
    reference = demo_project(tmp_path / "utf8", None, leads=40, activities=400)
    assert reference.run()["exit_status"] == 0
    project = demo_project(tmp_path / "utf16", None, leads=40, activities=400)
    for name in ("leads.csv", "activities.csv"):
        path = project.folder / "data" / name
        if encoding == "utf-16":
            _resave(path, "utf-16", delimiter)
        else:
            codec, bom = ("utf-16-le", b"\xff\xfe") if "le" in encoding else ("utf-16-be", b"\xfe\xff")
            _resave(path, codec, delimiter)
            path.write_bytes(bom + path.read_bytes())
    summary = project.run()
    dead = sqlite3.connect(project.folder / "state" / "state.db").execute("SELECT record_key, reason FROM dead_letters").fetchall()
    assert summary["exit_status"] == 0 and summary["dead_lettered"] == 0, (summary, dead[:3])
    assert _counts(project) == _counts(reference) and _counts(project)[0] == 40
    db = sqlite3.connect(project.folder / "state" / "state.db")
    ref = sqlite3.connect(reference.folder / "state" / "state.db")
    query = "SELECT lead_key, total, segment FROM scores ORDER BY lead_key"
    assert db.execute(query).fetchall() == ref.execute(query).fetchall()


@pytest.mark.parametrize("content,message", [
    (b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 40, "an Excel workbook (.xlsx), not CSV text"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 40, "an Excel 97-2003 workbook (.xls)"),
    ("email\tcompany\r\n".encode("utf-16-le"), "UTF-16 without a byte order mark"),
])
def test_files_that_are_not_text_are_named_for_what_they_are(tmp_path, content, message):
    project = demo_project(tmp_path, None, leads=5, activities=20)
    (project.folder / "data" / "leads.csv").write_bytes(content)
    result = project.invoke("sync", "run")
    assert result.exit_code == 2, result.output  # a configuration error: the file the connection names
    assert message in result.output
    assert "an Excel workbook?" not in result.output
