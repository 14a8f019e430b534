"""Parsing the business-calendar settings (workdays, hours, closed dates, holidays).

A leaf module: configuration validates with it, and the handoff's `BusinessCalendar` is built on it.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from leadsync.core.errors import ConfigError

__all__ = ["holiday_set", "parse_business_hours", "parse_closed_dates", "parse_workdays"]

_DAYS = {
    "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
    "月": 0, "火": 1, "水": 2, "木": 3, "金": 4, "土": 5, "日": 6,
}

def _day(token: str, raw: str) -> int:
    key = token.strip().lower()[:3] if token.strip().isascii() else token.strip()[:1]
    if key not in _DAYS:
        raise ConfigError(f"handoff.workdays: {raw!r} has unknown day {token.strip()!r} (expected mon..sun, e.g. 'mon-fri')")
    return _DAYS[key]


def parse_workdays(value: str) -> frozenset[int]:
    """Weekday numbers (Monday 0) from 'mon-fri', 'mon,wed,fri', 'mon-fri,sat' or '月-金'."""
    days: set[int] = set()
    for part in re.split(r"[,、\s]+", value.strip()):
        if not part:
            continue
        if "-" in part or "~" in part or "〜" in part:
            first, last = re.split(r"[-~〜]", part, maxsplit=1)
            start, end = _day(first, value), _day(last, value)
            day = start
            while True:
                days.add(day)
                if day == end:
                    break
                day = (day + 1) % 7
        else:
            days.add(_day(part, value))
    if not days:
        raise ConfigError(f"handoff.workdays: {value!r} names no day (expected e.g. 'mon-fri')")
    return frozenset(days)


def parse_business_hours(value: str) -> tuple[timedelta, timedelta]:
    """Opening and closing as offsets from midnight; '24:00' closes at midnight."""
    match = re.fullmatch(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})", value.strip())
    if not match:
        raise ConfigError(f"handoff.business_hours: {value!r} is not HH:MM-HH:MM (e.g. 09:00-18:00)")
    h1, m1, h2, m2 = map(int, match.groups())
    opening, closing = timedelta(hours=h1, minutes=m1), timedelta(hours=h2, minutes=m2)
    if m1 > 59 or m2 > 59 or closing > timedelta(hours=24) or opening >= closing:
        raise ConfigError(f"handoff.business_hours: {value!r} must open before it closes, within one day")
    return opening, closing


def parse_closed_dates(values: list[str]) -> tuple[frozenset[tuple[int, int]], frozenset[date]]:
    """Yearly (month, day) closings and dated closings, from 'MM-DD' and 'YYYY-MM-DD' strings."""
    yearly: set[tuple[int, int]] = set()
    dated: set[date] = set()
    for value in values:
        try:
            if re.fullmatch(r"\d{2}-\d{2}", value):
                month, day = map(int, value.split("-"))
                date(2024, month, day)  # a leap year, so 02-29 is accepted
                yearly.add((month, day))
            else:
                dated.add(date.fromisoformat(value))
        except ValueError:
            raise ConfigError(f"handoff.closed_dates: {value!r} is not a date (MM-DD or YYYY-MM-DD)") from None
    return frozenset(yearly), frozenset(dated)


@lru_cache(maxsize=8)
def holiday_set(country: str) -> Any:
    """The national holidays of `country` (an ISO 3166 code the holidays library knows)."""
    import holidays

    try:
        return holidays.country_holidays(country)
    except (NotImplementedError, KeyError):
        raise ConfigError(f"handoff.holidays: {country!r} is not a country code the holidays library knows (e.g. JP)") from None
