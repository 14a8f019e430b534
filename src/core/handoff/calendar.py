"""The business calendar that SLA due dates are computed on: hours, workdays, holidays, closings."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from leadsync.core.errors import ConfigError
from leadsync.core.workcalendar import holiday_set, parse_business_hours, parse_closed_dates, parse_workdays

if TYPE_CHECKING:
    from leadsync.core.config import HandoffSettings

__all__ = ["BusinessCalendar", "holiday_set", "parse_business_hours", "parse_closed_dates", "parse_workdays"]

# How far ahead a search for the next open moment goes before the calendar is declared closed.
_MAX_SEARCH_DAYS = 3700


class BusinessCalendar:
    """Business time in one time zone: open on workdays between the business hours, except on
    national holidays (substitute holidays included) and the configured closed dates."""

    def __init__(
        self,
        timezone_name: str = "Asia/Tokyo",
        *,
        business_hours: str = "09:00-18:00",
        workdays: str = "mon-fri",
        holidays: str | None = "JP",
        closed_dates: list[str] | tuple[str, ...] = (),
        sla_business_hours: float = 9,
        sla_calendar_hours: float | None = None,
    ) -> None:
        try:
            self.tz = ZoneInfo(timezone_name)
        except Exception:
            raise ConfigError(f"scoring.timezone: unknown time zone {timezone_name!r}") from None
        self.timezone_name = timezone_name
        self.opening, self.closing = parse_business_hours(business_hours)
        self.workdays = parse_workdays(workdays)
        self.holidays = holiday_set(holidays.strip().upper()) if holidays and holidays.strip() else None
        self.closed_yearly, self.closed_dated = parse_closed_dates(list(closed_dates))
        self.sla_business_hours = sla_business_hours
        self.sla_calendar_hours = sla_calendar_hours

    @classmethod
    def from_settings(cls, handoff: HandoffSettings, timezone: str) -> BusinessCalendar:
        return cls(
            timezone,
            business_hours=handoff.business_hours,
            workdays=handoff.workdays,
            holidays=handoff.holidays,
            closed_dates=list(handoff.closed_dates),
            sla_business_hours=handoff.sla_business_hours,
            sla_calendar_hours=handoff.sla_calendar_hours,
        )

    # --- days ------------------------------------------------------------------------------
    def is_business_day(self, day: date) -> bool:
        if day.weekday() not in self.workdays:
            return False
        if (day.month, day.day) in self.closed_yearly or day in self.closed_dated:
            return False
        return not (self.holidays is not None and day in self.holidays)

    def _bounds(self, day: date) -> tuple[datetime, datetime]:
        """Opening and closing of a day, as aware local datetimes (DST-safe through UTC)."""
        midnight = datetime.combine(day, time(0))
        opening = (midnight + self.opening).replace(tzinfo=self.tz)
        closing_naive = midnight + self.closing
        closing = closing_naive.replace(tzinfo=self.tz)
        return opening, closing

    def _local(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError("business calendar needs timezone-aware datetimes")
        return moment.astimezone(self.tz)

    # --- moments ---------------------------------------------------------------------------
    def is_open(self, moment: datetime) -> bool:
        local = self._local(moment)
        if not self.is_business_day(local.date()):
            return False
        opening, closing = self._bounds(local.date())
        return _utc(opening) <= _utc(local) < _utc(closing)

    def next_open(self, moment: datetime) -> datetime:
        """`moment` itself when open, else the next opening (in the calendar's time zone)."""
        local = self._local(moment)
        if self.is_open(local):
            return local
        day = local.date()
        for _ in range(_MAX_SEARCH_DAYS):
            if self.is_business_day(day):
                opening, _closing = self._bounds(day)
                if _utc(opening) > _utc(local):
                    return opening
            day += timedelta(days=1)
        raise ConfigError("handoff: the business calendar has no open hour in the next ten years (check workdays, closed_dates)")

    def add_business_hours(self, start: datetime, hours: float) -> datetime:
        """The moment `hours` of business time after `start` (the clock starts at the next opening).

        Work that ends exactly at a closing time is due at that closing, not at the next opening.
        """
        if hours < 0:
            raise ValueError("hours must not be negative")
        current = self.next_open(start)
        remaining = timedelta(hours=hours)
        for _ in range(_MAX_SEARCH_DAYS):
            _opening, closing = self._bounds(current.date())
            available = _utc(closing) - _utc(current)
            if remaining <= available:
                return (_utc(current) + remaining).astimezone(self.tz)
            remaining -= available
            current = self.next_open(closing)
        raise ConfigError("handoff: the SLA does not fit in ten years of business hours")

    def due(self, start: datetime) -> datetime:
        """When a handoff started at `start` is due: calendar hours if configured, else business hours."""
        if self.sla_calendar_hours is not None:
            return (_utc(self._local(start)) + timedelta(hours=self.sla_calendar_hours)).astimezone(self.tz)
        return self.add_business_hours(start, self.sla_business_hours)

    def business_hours_between(self, start: datetime, end: datetime) -> float:
        """Business hours elapsed from `start` to `end` (0 when `end` is not after `start`)."""
        if _utc(end) <= _utc(start):
            return 0.0
        total = timedelta()
        current = self.next_open(start)
        for _ in range(_MAX_SEARCH_DAYS):
            if _utc(current) >= _utc(end):
                break
            _opening, closing = self._bounds(current.date())
            total += min(_utc(closing), _utc(end)) - _utc(current)
            current = self.next_open(closing)
        return total.total_seconds() / 3600


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)
