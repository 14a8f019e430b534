"""What the Marketo streams share: the run's window and cursor watermark, and the lead fields to read."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from leadsync.connectors import Incremental, ReadContext, parse_datetime

from leadsync_marketo.client import MarketoClient, marketo_time
from leadsync_marketo.settings import LEAD_READ_FIELDS, MarketoSettings

__all__ = ["advance", "lead_fields", "later", "start"]


def start(ctx: ReadContext, settings: MarketoSettings, overlap: timedelta) -> tuple[Incremental, dict[str, Any]]:
    """This run's window (from the stored watermark minus `overlap`, up to the signpost), and the
    cursor of an interrupted run to resume (if any)."""
    cursor = {} if ctx.full_refresh or not ctx.cursor else dict(ctx.cursor)
    stored = parse_datetime(cursor.get("since")) if cursor.get("since") else None
    if stored is None:
        cursor = {}
    window = Incremental.of(ctx, stored, initial=timedelta(days=settings.initial_days), lookback=overlap)
    return window, cursor


def advance(window: Incremental, max_seen: str | None) -> str:
    """The next run's watermark: the newest timestamp seen, never past the run's signpost."""
    return marketo_time(window.advance(parse_datetime(max_seen) if max_seen else None))


def later(current: str | None, value: Any) -> str | None:
    """The later of a stored Marketo time and an activity date (as Marketo time)."""
    moment = parse_datetime(value) if value else None
    if moment is None:
        return current
    if current is None or moment > parse_datetime(current):  # type: ignore[operator]
        return marketo_time(moment)
    return current


def lead_fields(client: MarketoClient, settings: MarketoSettings) -> tuple[list[str], list[str]]:
    """(fields to read, fields whose changes to watch): mapped fields the instance has."""
    available = client.describe_fields()
    mapped = [settings.field(name) for name in LEAD_READ_FIELDS]
    read = ["id"] + [f for f in dict.fromkeys(mapped) if f and f in available and f != "id"]
    # leadsync's own score fields are not watched: a score push must not look like a change.
    watch = [f for f in read if f not in ("id", "createdAt", "updatedAt")]
    return read, watch or ["email"]
