"""Report periods: dates in the configured zone to UTC epoch ranges, split by month, week or UTC offset."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["Period", "business_days", "period_from", "split_by_offset", "split_period"]


@dataclass(frozen=True)
class Period:
    """The local dates `first` .. `last`, both inclusive, in `zone`."""

    first: date
    last: date
    zone: str

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    @property
    def start(self) -> float:
        return datetime.combine(self.first, time(0), self.tz).timestamp()

    @property
    def end(self) -> float:
        """Epoch of the midnight after `last` (exclusive)."""
        return datetime.combine(self.last + timedelta(days=1), time(0), self.tz).timestamp()

    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


def period_from(first: date | None, last: date | None, zone: str, today: date, default_days: int = 30) -> Period:
    """`--from`/`--to` (both inclusive); the last `default_days` days up to `today` by default."""
    last = last or (today if first is None else max(today, first))
    first = first or (last - timedelta(days=default_days - 1))
    if first > last:
        raise ValueError(f"--from {first} is after --to {last}")
    return Period(first, last, zone)


def split_period(period: Period, by: str) -> list[tuple[str, Period]]:
    """(label, sub-period) per calendar month ('2025-04') or ISO week ('2025-W15') of the period."""
    parts: list[tuple[str, Period]] = []
    day = period.first
    while day <= period.last:
        if by == "month":
            label = f"{day.year:04d}-{day.month:02d}"
            following = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
        elif by == "week":
            year, week, _ = day.isocalendar()
            label = f"{year:04d}-W{week:02d}"
            following = day + timedelta(days=7 - day.weekday())
        else:
            raise ValueError(f"cannot split by {by!r}")
        last = min(period.last, following - timedelta(days=1))
        parts.append((label, Period(day, last, period.zone)))
        day = following
    return parts


def split_by_offset(period: Period) -> list[tuple[float, float, float]]:
    """(start, end, UTC offset in seconds) pieces of the period over which the zone's offset is
    constant (one piece unless the period crosses a daylight-saving change)."""
    tz = period.tz
    pieces: list[tuple[float, float, float]] = []
    start = period.start
    offset = datetime.fromtimestamp(start, tz).utcoffset().total_seconds()  # type: ignore[union-attr]
    for day in period.days()[1:] + [period.last + timedelta(days=1)]:
        moment = datetime.combine(day, time(0), tz)
        now_offset = moment.utcoffset().total_seconds()  # type: ignore[union-attr]
        if now_offset != offset:
            # The change happened during the previous day: find its hour, stepping in UTC.
            cut_epoch = moment.timestamp() - 86400
            while _offset(cut_epoch, tz) == offset:
                cut_epoch += 3600
            pieces.append((start, cut_epoch, offset))
            start, offset = cut_epoch, now_offset
    pieces.append((start, period.end, offset))
    return pieces


def _offset(epoch: float, tz: ZoneInfo) -> float:
    return datetime.fromtimestamp(epoch, tz).utcoffset().total_seconds()  # type: ignore[union-attr]


def business_days(period: Period, is_business_day: object) -> int:
    """Business days of the period under a calendar's `is_business_day(date)`."""
    return sum(1 for day in period.days() if is_business_day(day))  # type: ignore[operator]
