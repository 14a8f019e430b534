"""Business-calendar due dates: weekends, Japanese holidays, closings, off-hours starts."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from leadsync.core.config import HandoffSettings
from leadsync.core.errors import ConfigError
from leadsync.core.handoff import BusinessCalendar

JST = ZoneInfo("Asia/Tokyo")


def jst(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=JST)


@pytest.fixture
def cal() -> BusinessCalendar:
    return BusinessCalendar.from_settings(HandoffSettings(), "Asia/Tokyo")


@pytest.mark.parametrize(
    ("start", "due"),
    [
        ("2025-04-07T10:00", "2025-04-08T10:00"),  # a plain Monday: one business day later
        ("2025-04-07T09:00", "2025-04-07T18:00"),  # starting at opening ends at closing, same day
        ("2025-04-11T15:30", "2025-04-14T15:30"),  # Friday -> Monday across the weekend
        # Golden Week 2025: 5/3-5/5 holidays, 5/6 substitute holiday for Children's Day on Sunday
        ("2025-05-02T10:00", "2025-05-07T10:00"),
        # 2026: 5/3 Sunday, so 5/6 (Wednesday) is the substitute holiday
        ("2026-05-01T11:00", "2026-05-07T11:00"),
        ("2026-05-06T11:00", "2026-05-07T18:00"),  # started on the substitute holiday itself
        # year-end closing 12/29-1/3 plus New Year's Day
        ("2025-12-26T12:00", "2026-01-05T12:00"),
        ("2025-11-21T16:00", "2025-11-25T16:00"),  # 11/24/2025 substitute for Labour Thanksgiving
    ],
)
def test_due_skips_weekends_holidays_and_closings(cal: BusinessCalendar, start: str, due: str) -> None:
    assert cal.due(jst(start)) == jst(due)
    assert cal.due(jst(start)).utcoffset().total_seconds() == 9 * 3600


@pytest.mark.parametrize(
    ("start", "due"),
    [
        ("2025-04-07T20:30", "2025-04-08T18:00"),  # evening: clock starts next morning 09:00
        ("2025-04-08T06:00", "2025-04-08T18:00"),  # early morning: starts at 09:00 the same day
        ("2025-04-12T13:00", "2025-04-14T18:00"),  # Saturday: starts Monday 09:00
        ("2025-04-07T18:00", "2025-04-08T18:00"),  # closing time is already closed
    ],
)
def test_clock_started_outside_business_hours(cal: BusinessCalendar, start: str, due: str) -> None:
    assert cal.due(jst(start)) == jst(due)


def test_is_open_and_next_open(cal: BusinessCalendar) -> None:
    assert cal.is_open(jst("2025-04-07T09:00"))
    assert not cal.is_open(jst("2025-04-07T18:00"))
    assert not cal.is_open(jst("2025-05-06T12:00"))  # substitute holiday
    assert not cal.is_open(jst("2025-12-30T12:00"))  # configured closing
    assert cal.next_open(jst("2025-04-07T12:00")) == jst("2025-04-07T12:00")
    assert cal.next_open(jst("2025-12-28T12:00")) == jst("2026-01-05T09:00")
    # a UTC instant is read in the calendar's zone: 2025-04-07 00:30 UTC is 09:30 JST
    utc = datetime(2025, 4, 7, 0, 30, tzinfo=timezone.utc)
    assert cal.is_open(utc)
    assert cal.next_open(utc) == jst("2025-04-07T09:30")


def test_add_business_hours_spans_days(cal: BusinessCalendar) -> None:
    assert cal.add_business_hours(jst("2025-04-07T17:00"), 2) == jst("2025-04-08T10:00")
    assert cal.add_business_hours(jst("2025-04-07T10:00"), 27) == jst("2025-04-10T10:00")  # 3 business days
    assert cal.add_business_hours(jst("2025-04-07T10:00"), 0) == jst("2025-04-07T10:00")
    assert cal.business_hours_between(jst("2025-04-11T17:00"), jst("2025-04-14T10:00")) == pytest.approx(2.0)


def test_calendar_hours_mode_ignores_business_time() -> None:
    cal = BusinessCalendar.from_settings(HandoffSettings(sla_calendar_hours=48), "Asia/Tokyo")
    assert cal.due(jst("2025-05-02T20:00")) == jst("2025-05-04T20:00")  # through the holidays, wall clock
    assert cal.due(datetime(2025, 5, 2, 11, 0, tzinfo=timezone.utc)).isoformat() == "2025-05-04T20:00:00+09:00"


def test_dated_closing_and_custom_hours_and_workdays() -> None:
    handoff = HandoffSettings(business_hours="10:00-17:00", workdays="mon-sat", closed_dates=["2025-04-08"],
                              sla_business_hours=14)
    cal = BusinessCalendar.from_settings(handoff, "Asia/Tokyo")
    # Mon 4/7 10:00 + 7 h = 17:00; 4/8 closed (dated); Wed 4/9 another 7 h -> 17:00
    assert cal.due(jst("2025-04-07T10:00")) == jst("2025-04-09T17:00")
    assert cal.is_open(jst("2025-04-12T12:00"))  # Saturday is a workday here
    assert not cal.is_open(jst("2026-04-08T09:30"))  # before 10:00


def test_no_holidays_when_disabled() -> None:
    cal = BusinessCalendar.from_settings(HandoffSettings(holidays=None, closed_dates=[]), "Asia/Tokyo")
    assert cal.is_open(jst("2025-05-06T12:00"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"workdays": "mon-fry"}, "handoff.workdays"),
        ({"holidays": "XX"}, "handoff.holidays"),
        ({"closed_dates": ["02-30"]}, "handoff.closed_dates"),
    ],
)
def test_bad_calendar_settings_name_the_key(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        BusinessCalendar("Asia/Tokyo", **kwargs)
    with pytest.raises(ValueError, match=message.split(".")[1]):  # and the settings refuse them when loaded
        HandoffSettings(**kwargs)


def test_never_open_calendar_is_an_error() -> None:
    cal = BusinessCalendar("Asia/Tokyo", workdays="sat", closed_dates=[f"{m:02d}-{d:02d}" for m in range(1, 13) for d in range(1, 32) if not (m == 2 and d > 29) and not (m in (4, 6, 9, 11) and d == 31)])
    with pytest.raises(ConfigError, match="no open hour"):
        cal.due(jst("2025-04-07T10:00"))


def test_japanese_weekday_names() -> None:
    cal = BusinessCalendar("Asia/Tokyo", workdays="月-金")
    assert cal.workdays == frozenset(range(5))
