"""The one codec between outbox payloads (JSON stored with each planned write) and the write
requests connectors receive (`TaskRequest`, `ScoreUpdate`)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from leadsync.connectors.base import ScoreUpdate, TaskRequest
from leadsync.core.models import Segment

__all__ = ["score_payload", "score_update", "task_payload", "task_request"]


def task_payload(task: TaskRequest) -> dict[str, Any]:
    """A TaskRequest as the outbox stores it (due_at in ISO 8601 with offset)."""
    return {
        "key": task.key, "lead_key": task.lead_key, "email": task.email, "record_id": task.record_id,
        "owner": task.owner, "subject": task.subject, "body": task.body,
        "due_at": task.due_at.isoformat(), "priority": task.priority,
    }


def task_request(key: str, payload: dict[str, Any]) -> TaskRequest:
    """The TaskRequest of an outbox row; `retry_ambiguous` is set once by a person's re-queue."""
    p = payload
    return TaskRequest(
        key=key, lead_key=p["lead_key"], email=p.get("email"), record_id=p.get("record_id"),
        owner=p.get("owner"), subject=p["subject"], body=p["body"],
        due_at=datetime.fromisoformat(p["due_at"]), priority=p.get("priority", "high"),
        retry_ambiguous=bool(p.get("retry_ambiguous", False)),
    )


def score_payload(
    *, lead_key: str, email: str | None, record_id: str | None, score: int, behavior: int, attribute: int,
    segment: str, sheet_version: str, scored_at: float, fingerprint: str,
) -> dict[str, Any]:
    """A planned score update as the outbox stores it (scored_at in epoch seconds)."""
    return {
        "lead_key": lead_key, "email": email, "record_id": record_id, "score": score,
        "behavior_score": behavior, "attribute_score": attribute, "segment": segment,
        "sheet_version": sheet_version, "scored_at": scored_at, "fingerprint": fingerprint,
    }


def score_update(key: str, payload: dict[str, Any]) -> ScoreUpdate:
    p = payload
    return ScoreUpdate(
        key=key, lead_key=p["lead_key"], email=p.get("email"), record_id=p.get("record_id"),
        score=int(p["score"]), behavior_score=int(p["behavior_score"]), attribute_score=int(p["attribute_score"]),
        segment=Segment(p["segment"]), sheet_version=p["sheet_version"],
        scored_at=datetime.fromtimestamp(float(p["scored_at"]), tz=timezone.utc),
    )
