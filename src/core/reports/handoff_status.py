"""`handoff status`: open and overdue handoffs, and how fast sales made the first touch."""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any

from leadsync.core.config import Settings
from leadsync.core.handoff.calendar import BusinessCalendar
from leadsync.core.state import activities, handoffs, leads
from leadsync.core.state.store import StateStore, from_epoch

__all__ = ["handoff_status"]


def _iso(epoch: float | None, calendar: BusinessCalendar) -> str | None:
    moment = from_epoch(epoch)
    return moment.astimezone(calendar.tz).isoformat() if moment else None


def handoff_status(store: StateStore, settings: Settings, as_of: datetime) -> dict[str, Any]:
    """Open handoffs (overdue flagged) and time-to-first-touch figures over all episodes.

    A first touch is the CRM's task completion or the lead's first call or meeting after the
    handoff opened, whichever came first; read-only.
    """
    calendar = BusinessCalendar.from_settings(settings.handoff, settings.scoring.timezone)
    now = as_of.timestamp()
    rows = handoffs.all_rows(store.db)
    open_rows, touch_hours, touch_business, within_sla = [], [], [], 0
    for row in rows:
        until = row["closed_at"] if row["closed_at"] is not None else now
        candidates = [t for t in (row["first_touch_at"], activities.first_touch(store.db, row["lead_key"], row["opened_at"], until)) if t is not None]
        touch = min(candidates) if candidates else None
        if touch is not None:
            opened, touched = from_epoch(row["opened_at"]), from_epoch(touch)
            touch_hours.append((touch - row["opened_at"]) / 3600)
            touch_business.append(calendar.business_hours_between(opened, touched))  # type: ignore[arg-type]
            within_sla += touch <= row["due_at"]
        if row["status"] != "open":
            continue
        lead = leads.load(store.db, row["lead_key"])
        overdue = touch is None and row["due_at"] <= now
        open_rows.append({
            "email": lead.email if lead else None, "lead_key": row["lead_key"], "name": lead.name if lead else "",
            "company": lead.company if lead else None, "owner": row["owner"], "score": row["score"],
            "connection": row["connection"], "task_key": row["task_key"],
            "opened_at": _iso(row["opened_at"], calendar), "due_at": _iso(row["due_at"], calendar),
            "first_touch_at": _iso(touch, calendar), "overdue": overdue,
            "overdue_notified": bool(row["overdue_notified"]),
        })
    return {
        "as_of": as_of.astimezone(calendar.tz).isoformat(),
        "open": len(open_rows),
        "overdue": sum(r["overdue"] for r in open_rows),
        "handoffs": len(rows),
        "first_touch": {
            "touched": len(touch_hours),
            "within_sla": within_sla,
            "median_hours": round(statistics.median(touch_hours), 2) if touch_hours else None,
            "median_business_hours": round(statistics.median(touch_business), 2) if touch_business else None,
            "mean_hours": round(statistics.fmean(touch_hours), 2) if touch_hours else None,
        },
        "open_handoffs": open_rows,
    }
