"""Datetimes as the fake Salesforce org stamps and answers them."""

from __future__ import annotations

from datetime import datetime, timezone

__all__ = ["sf_time"]


def sf_time(moment: datetime | None = None) -> str:
    """A datetime as Salesforce answers it. Salesforce keeps SystemModstamp and the other datetime
    fields to the whole second (the milliseconds always read .000), so a stamp made now never lies
    after a whole-second SOQL literal of a later moment."""
    moment = (moment or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + ".000+0000"
