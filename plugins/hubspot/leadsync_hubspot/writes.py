"""Score updates (contacts batch update), and the batch-answer helpers the task writes share."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from leadsync.connectors import (
    BatchRejected,
    ClientError,
    HttpClient,
    ScoreUpdate,
    WriteResult,
    bisect_batch,
)

from leadsync_hubspot.errors import error_text, setup_missing
from leadsync_hubspot.mapping import score_properties
from leadsync_hubspot.settings import HubSpotSettings

__all__ = ["error_targets", "error_text", "push_scores", "retryable_error"]



def _payload(response: Any) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def error_targets(error: dict[str, Any]) -> set[str]:
    """The ids / objectWriteTraceIds a batch error names in its context."""
    context = error.get("context") or {}
    targets: set[str] = set()
    for name in ("ids", "id", "objectWriteTraceId", "objectWriteTraceIds"):
        value = context.get(name)
        if isinstance(value, list):
            targets.update(str(v) for v in value)
        elif value is not None:
            targets.add(str(value))
    return targets


def retryable_error(error: dict[str, Any]) -> bool:
    status = str(error.get("status") or "")
    return error.get("category") == "RATE_LIMITS" or status.startswith("5")


# --- scores ------------------------------------------------------------------------------------

def push_scores(client: HttpClient, settings: HubSpotSettings, updates: Sequence[ScoreUpdate]) -> list[WriteResult]:
    """One batch update (at most 100); results are matched by id and trace id, never by position.

    A 400 for the whole batch is bisected to find the records at fault, unless HubSpot says a
    property does not exist: that is the set-up missing (SetupMissing), not a bad record."""
    results: dict[str, WriteResult] = {}
    sendable: list[ScoreUpdate] = []
    for update in updates:
        if not update.record_id:
            results[update.key] = WriteResult(update.key, False, error="no HubSpot contact id for this lead")
        else:
            sendable.append(update)

    def send(batch: list[ScoreUpdate]) -> list[WriteResult]:
        body = {
            "inputs": [
                {"id": u.record_id, "objectWriteTraceId": u.key, "properties": score_properties(u, settings)}
                for u in batch
            ]
        }
        try:
            response = client.post("/crm/v3/objects/contacts/batch/update", json=body, idempotent=True)
        except ClientError as exc:
            if exc.status == 400:
                missing = setup_missing(exc, "contacts")
                if missing is not None:  # no record is at fault: stop before a bisection storm
                    raise missing from None
                raise BatchRejected(error_text(exc.json or {"message": str(exc)})) from None
            raise
        return _match(batch, _payload(response), id_of=lambda u: str(u.record_id))

    for item in bisect_batch(sendable, send) if sendable else []:
        results[item.item.key] = item.result if item.ok and item.result else WriteResult(
            item.item.key, False, error=item.error
        )
    return [results[u.key] for u in updates]


def _match(batch: Sequence[Any], payload: dict[str, Any], *, id_of: Callable[[Any], str]) -> list[WriteResult]:
    errors: dict[str, dict[str, Any]] = {}
    for error in payload.get("errors") or []:
        for target in error_targets(error):
            errors[target] = error
    done_ids = {str(r.get("id")) for r in payload.get("results") or []}
    done_traces = {str(r.get("objectWriteTraceId")) for r in payload.get("results") or [] if r.get("objectWriteTraceId")}
    out: list[WriteResult] = []
    for item in batch:
        error = errors.get(item.key) or errors.get(id_of(item))
        if error is not None:
            out.append(WriteResult(item.key, False, error=error_text(error), retryable=retryable_error(error)))
        elif id_of(item) in done_ids or item.key in done_traces:
            out.append(WriteResult(item.key, True, external_id=id_of(item)))
        else:
            out.append(WriteResult(item.key, False, error="HubSpot did not report this record", retryable=True))
    return out
