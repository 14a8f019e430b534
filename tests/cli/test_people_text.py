"""Names in the order their culture writes them, and the honorific in task text (issue 14: 14)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from leadsync.core.handoff.text import task_subject
from leadsync.core.models import Lead, Score, Segment

JST = ZoneInfo("Asia/Tokyo")


@pytest.mark.parametrize(("first", "last", "expected"), [
    ("花子", "佐藤", "佐藤 花子"),
    ("ハナコ", "サトウ", "サトウ ハナコ"),
    ("Laura", "Taylor", "Laura Taylor"),
    ("Laura", None, "Laura"),
    (None, "Taylor", "Taylor"),
    ("Hanako", "Sato", "Hanako Sato"),
])
def test_family_name_first_only_for_japanese_names(first, last, expected):
    assert Lead(key="k", first_name=first, last_name=last).name == expected


def _subject(first: str, last: str, language: str) -> str:
    lead = Lead(key="k", first_name=first, last_name=last, company="Acme")
    now = datetime(2026, 4, 6, 10, tzinfo=JST)
    score = Score(lead_key="k", total=90, behavior=50, attribute=40, segment=Segment.HOT, sheet_version="v",
                  scored_at=now)
    return task_subject(lead, score, now, JST, language)


def test_japanese_task_text_puts_the_honorific_after_each_kind_of_name():
    assert "Acme 佐藤 花子様 " in _subject("花子", "佐藤", "ja")
    assert "Acme Laura Taylor 様 " in _subject("Laura", "Taylor", "ja")
    assert "Taylor Laura" not in _subject("Laura", "Taylor", "ja")


def test_english_task_text_has_no_honorific():
    assert _subject("Laura", "Taylor", "en").startswith("Hot lead: Laura Taylor (Acme)")
