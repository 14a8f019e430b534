"""MQL handoff (SPEC section 6): business calendar, routing, episodes, task text and preview."""

from __future__ import annotations

from leadsync.core.handoff.calendar import BusinessCalendar
from leadsync.core.handoff.episodes import EpisodeChanges, is_rejected_status, notify_overdue, update_episodes
from leadsync.core.handoff.planning import (
    ACTIONS,
    HandoffPlan,
    apply_handoffs,
    plan_handoffs,
    resolve_task_connection,
    task_key,
    task_payload,
)
from leadsync.core.handoff.preview import plans_csv, preview_plans, render_plans
from leadsync.core.handoff.routing import OwnerRouter, parse_routing_rules

__all__ = [
    "ACTIONS",
    "BusinessCalendar",
    "EpisodeChanges",
    "HandoffPlan",
    "OwnerRouter",
    "apply_handoffs",
    "is_rejected_status",
    "notify_overdue",
    "parse_routing_rules",
    "plan_handoffs",
    "plans_csv",
    "preview_plans",
    "render_plans",
    "resolve_task_connection",
    "task_key",
    "task_payload",
    "update_episodes",
]
