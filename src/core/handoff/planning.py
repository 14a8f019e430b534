"""Planning handoffs for hot leads, and recording them with their tasks in one transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from leadsync.connectors.base import TaskRequest
from leadsync.core.config import Settings
from leadsync.core import quality
from leadsync.core.handoff.calendar import BusinessCalendar
from leadsync.core.handoff.episodes import is_rejected_status
from leadsync.core.handoff.owners import OwnerDirectory
from leadsync.core.handoff.routing import OwnerRouter, advance_round_robin
from leadsync.core.handoff.text import task_body, task_subject, top_reasons
from leadsync.core.models import Lead, Score
from leadsync.core.codec import task_payload
from leadsync.core.state import activities, handoffs, leads, outbox, scores
from leadsync.core.state.store import StateStore, from_epoch

__all__ = [
    "ACTIONS",
    "HandoffPlan",
    "apply_handoffs",
    "plan_handoffs",
    "resolve_task_connection",
    "task_key",
    "task_payload",
]

# Why a hot lead gets a task or not; `action` of a plan is one of these.
ACTIONS = {
    "create_task": "a new MQL: a task will be created",
    "open_handoff": "an earlier handoff of this lead is still open",
    "cooldown": "the previous handoff closed less than cooldown_days ago",
    "recycled": "sales rejected the previous handoff and the lead has not re-qualified since",
    "already_handed_off": "handed off before and has not re-qualified (fallen to requalify_segment) since",
    "rejected_in_crm": "the CRM status says sales rejected this lead; it is handed off again once sales changes it",
    "no_task_connection": "no connection has the tasks role (or handoff.task_connection is unset)",
    "quarantined": "a data-quality rule holds the lead (docs/quality.md); `leadsync quality release` lets it through",
}
_SEGMENT_RANK = {"cold": 0, "warm": 1, "hot": 2}


@dataclass
class HandoffPlan:
    """What the next run would do for one hot lead."""

    lead_key: str
    email: str | None
    name: str
    company: str | None
    score: int
    segment: str
    owner: str | None
    due_at: datetime | None
    reasons: list[dict[str, Any]]
    connection: str | None
    action: str
    task: TaskRequest | None = None
    route: str = "none"
    lead_source: str | None = None
    lead_status: str | None = None
    detail: str | None = None
    rules: list[dict[str, Any]] = field(default_factory=list)
    round_robin_index: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "name": self.name,
            "company": self.company,
            "score": self.score,
            "segment": self.segment,
            "owner": self.owner,
            "route": self.route,
            "due_at": self.due_at.isoformat() if self.due_at else None,
            "reasons": [{"rule": r["rule"], "points": r["points"]} for r in self.reasons],
            "connection": self.connection,
            "action": self.action,
            "detail": self.detail,
            "lead_key": self.lead_key,
            "task_key": self.task.key if self.task else None,
            "subject": self.task.subject if self.task else None,
        }


def resolve_task_connection(settings: Settings) -> str | None:
    """handoff.task_connection, else the first connection whose roles include "tasks"."""
    if settings.handoff.task_connection:
        return settings.handoff.task_connection
    for name, table in settings.connections.items():
        if "tasks" in [str(getattr(role, "value", role)) for role in (table.get("roles") or [])]:
            return name
    return None


def task_key(lead_key: str, opened_at: datetime) -> str:
    """Deterministic idempotency key of one episode's task: `ls-YYYYMMDD-<digest>`.

    The UTC date the handoff opened is readable in the key, so a connector that finds a handoff
    of the same lead under another key (a state store that lost its recent writes) can tell how
    recent it is, where the vendor keeps no task to look at (Marketo's campaign fence); see
    `leadsync.connectors.base.task_key_date`.
    """
    digest = hashlib.sha256(f"{lead_key}|{opened_at.timestamp():.6f}".encode()).hexdigest()
    return f"ls-{opened_at.astimezone(timezone.utc):%Y%m%d}-{digest[:16]}"



def _points(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _why_not(store: StateStore, settings: Settings, lead: Lead, as_of: datetime) -> tuple[str | None, Any]:
    """(action, row) when the lead must not get a new task, else (None, None)."""
    lead_key = lead.key
    row = handoffs.open_for_lead(store.db, lead_key)
    if row is not None:
        return "open_handoff", row
    previous = handoffs.last_for_lead(store.db, lead_key)
    if previous is None:
        # Sales' last word stands: a rejection recorded in the CRM before leadsync handed this
        # lead off is respected until sales changes the status.
        if is_rejected_status(lead.status, settings.handoff):
            return "rejected_in_crm", None
        return None, None
    closed = previous["closed_at"] if previous["closed_at"] is not None else previous["opened_at"]
    if as_of.timestamp() < closed + timedelta(days=settings.handoff.cooldown_days).total_seconds():
        return "cooldown", previous
    floor = _SEGMENT_RANK[settings.handoff.requalify_segment]
    low = [segment for segment, rank in _SEGMENT_RANK.items() if rank <= floor]
    if scores.requalified(store.db, lead_key, previous["opened_at"], as_of.timestamp(), low):
        return None, None
    return ("recycled" if previous["status"] == "rejected" else "already_handed_off"), previous


def plan_handoffs(
    store: StateStore, settings: Settings, as_of: datetime, host: Any, *, task_connection: str | None,
    owners: OwnerDirectory | None = None,
) -> list[HandoffPlan]:
    """One plan per lead whose current score is hot, hottest first; writes nothing.

    `owners` resolves reps to the task connection's ids (None: names are taken as they are).
    """
    calendar = BusinessCalendar.from_settings(settings.handoff, settings.scoring.timezone)
    router = OwnerRouter(store, settings.handoff.owners, settings.handoff.routing, host, owners)
    plans = []
    for score in scores.hot(store.db):
        lead = leads.load(store.db, score.lead_key)
        if lead is None:
            continue
        plans.append(_plan_one(store, settings, calendar, router, lead, score, as_of, task_connection))
    return plans


def _plan_one(
    store: StateStore,
    settings: Settings,
    calendar: BusinessCalendar,
    router: OwnerRouter,
    lead: Lead,
    score: Score,
    as_of: datetime,
    connection: str | None,
) -> HandoffPlan:
    hits = top_reasons(score.breakdown)
    plan = HandoffPlan(
        lead_key=lead.key or score.lead_key, email=lead.email, name=lead.name, company=lead.company,
        score=score.total, segment=score.segment.value, owner=None, due_at=None,
        reasons=[{"rule": h.rule, "points": _points(h.points)} for h in hits], connection=connection,
        action="create_task", lead_source=lead.lead_source, lead_status=lead.status,
        rules=[{"rule": h.rule, "group": h.group, "points": _points(h.points)} for h in hits],
    )
    blocked, row = _why_not(store, settings, lead.model_copy(update={"key": plan.lead_key}), as_of)
    held = None
    if blocked is None and quality.quarantining_rules(settings.quality):  # none: no lead can be held
        verdict = quality.check(store.db, settings.quality, lead.model_copy(update={"key": plan.lead_key}))
        if verdict.quarantined:
            blocked, held = "quarantined", verdict.describe()
    if blocked is None and connection is None:
        blocked = "no_task_connection"
    if blocked is not None:
        plan.action, plan.detail = blocked, held or ACTIONS[blocked]
        if row is not None:
            plan.owner, plan.route = row["owner"], "episode"
            if blocked == "open_handoff":
                plan.due_at = from_epoch(row["due_at"]).astimezone(calendar.tz)  # type: ignore[union-attr]
            if blocked == "cooldown":
                closed = row["closed_at"] if row["closed_at"] is not None else row["opened_at"]
                until = from_epoch(closed + timedelta(days=settings.handoff.cooldown_days).total_seconds())
                plan.detail = f"cooldown until {until.astimezone(calendar.tz).isoformat()}"  # type: ignore[union-attr]
        else:
            plan.owner, plan.route = router.route(lead, score, consume=False)
            if plan.route == "round_robin":
                plan.owner, plan.route = None, "none"  # who gets it is decided when it really happens
        return plan
    plan.owner, plan.route = router.route(lead, score)
    if plan.route == "round_robin":
        plan.round_robin_index = router.last_index
    plan.due_at = calendar.due(as_of)
    key = task_key(plan.lead_key, as_of)
    handoff = settings.handoff
    recent = activities.recent(store.db, plan.lead_key, handoff.task_activities, before=as_of.timestamp())
    plan.task = TaskRequest(
        key=key, lead_key=plan.lead_key, email=lead.email, record_id=lead.refs.get(connection or ""),
        owner=router.directory.vendor_id(plan.owner),
        subject=task_subject(lead, score, plan.due_at, calendar.tz, handoff.language),
        body=task_body(lead, score, plan.due_at, recent, calendar.tz, handoff.language, handoff.task_reasons, key),
        due_at=plan.due_at, priority="high",
    )
    plan.detail = ACTIONS["create_task"]
    return plan


def apply_handoffs(
    store: StateStore, plans: Sequence[HandoffPlan], as_of: datetime, run_id: int | None
) -> list[TaskRequest]:
    """Open an episode and enqueue its task for every `create_task` plan, all in one transaction.

    A plan whose lead meanwhile has an open episode, or whose key is already recorded, is
    skipped. The round robin advances only for the tasks really enqueued. Returns those tasks.
    """
    created: list[TaskRequest] = []
    served: list[tuple[str, int]] = []
    with store.transaction() as db:
        for plan in plans:
            if plan.action != "create_task" or plan.task is None or plan.connection is None:
                continue
            task = plan.task
            if not handoffs.insert(
                db, lead_key=plan.lead_key, connection=plan.connection, owner=plan.owner, score=plan.score,
                segment=plan.segment, opened_at=as_of.timestamp(), due_at=task.due_at.timestamp(), task_key=task.key,
                reasons=plan.rules, opened_status=plan.lead_status,
            ):
                continue
            if not outbox.enqueue(db, key=task.key, connection=plan.connection, kind="task", lead_key=plan.lead_key,
                           payload=task_payload(task), run_id=run_id):
                continue
            created.append(task)
            if plan.route == "round_robin" and plan.owner and plan.round_robin_index is not None:
                served.append((plan.owner, plan.round_robin_index))
        if served:
            advance_round_robin(store, *served[-1])
    return created
