"""MQL handoff: business calendar, routing, the episode lifecycle (one owner: episodes.py), task
text and preview (docs/handoff.md)."""

from __future__ import annotations

from leadsync.core.handoff.calendar import BusinessCalendar
from leadsync.core.handoff.episodes import (
    EpisodeChanges,
    announce_created,
    is_rejected_status,
    notify_overdue,
    record_task_update,
    update_episodes,
)
from leadsync.core.handoff.planning import (
    ACTIONS,
    HandoffPlan,
    apply_handoffs,
    plan_handoffs,
    resolve_task_connection,
    task_key,
    task_payload,
)
from leadsync.core.handoff.owners import OwnerDirectory, OwnerLookupFailed, configured_owners
from leadsync.core.handoff.preview import plans_csv, preview_plans, render_plans
from leadsync.core.handoff.routing import OwnerRouter, parse_routing_rules

__all__ = [
    "ACTIONS",
    "BusinessCalendar",
    "EpisodeChanges",
    "HandoffPlan",
    "OwnerDirectory",
    "OwnerLookupFailed",
    "OwnerRouter",
    "announce_created",
    "apply_handoffs",
    "configured_owners",
    "is_rejected_status",
    "notify_overdue",
    "parse_routing_rules",
    "plan_handoffs",
    "plans_csv",
    "preview_plans",
    "record_task_update",
    "render_plans",
    "resolve_task_connection",
    "task_key",
    "task_payload",
    "update_episodes",
]
