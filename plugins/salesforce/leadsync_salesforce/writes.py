"""Salesforce writes through sObject Collections: score updates, and the per-record error classes.

A collection call answers one result per record. `UNABLE_TO_LOCK_ROW` (another transaction held a
row the save needed for longer than Salesforce's lock wait) is transient: the record stays in the
outbox and the next run sends it again. Every other per-record code is dead-lettered with
Salesforce's own statusCode, message and fields.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from leadsync.connectors import ClientError, ConnectorError, ScoreUpdate, SetupMissing, VendorUnavailable, WriteResult

from leadsync_salesforce.client import SalesforceClient
from leadsync_salesforce.settings import SalesforceSettings

__all__ = ["MAX_RECORDS", "TRANSIENT_CODES", "collection", "describe_errors", "is_transient", "push_scores",
           "setup_missing", "unless_busy"]

MAX_RECORDS = 200  # sObject Collections limit
# Per-record status codes a later attempt can fix (see the plugin README for the sources).
TRANSIENT_CODES = frozenset({"UNABLE_TO_LOCK_ROW"})


def describe_errors(item: dict[str, Any]) -> str:
    """Salesforce's own detail of a failed record: 'CODE: message (field, field)'; ..."""
    errors = item.get("errors") or []
    parts = []
    for e in errors:
        fields = e.get("fields") or []
        parts.append(f"{e.get('statusCode')}: {e.get('message')}" + (f" ({', '.join(fields)})" if fields else ""))
    return "; ".join(parts) or "rejected by Salesforce"


def is_transient(item: dict[str, Any]) -> bool:
    """True when every error of a failed record is one a later attempt can fix."""
    codes = [str(e.get("statusCode")) for e in item.get("errors") or []]
    return bool(codes) and all(code in TRANSIENT_CODES for code in codes)


def setup_missing(items: Sequence[Any], exc: ClientError | None = None) -> SetupMissing | None:
    """INVALID_FIELD ('No such column ...'): the org lacks a field leadsync writes (or the integration
    user cannot see it); the connection is not set up, no record is at fault."""
    for item in items:
        if isinstance(item, dict) and item.get("errorCode") == "INVALID_FIELD":
            message = str(item.get("message") or "")
            named = re.search(r"No such column '([^']+)' on (?:sobject of type |entity ')?(\w+)", message)
            field = f"{named.group(2)}.{named.group(1)}" if named else message
            where = {"status": exc.status, "body": exc.body, "method": exc.method, "url": exc.url} if exc else {}
            return SetupMissing(f"Salesforce field {field} (INVALID_FIELD: {message})", **where)
    return None


def unless_busy(keys: Sequence[str], write: Callable[[], list[WriteResult]]) -> list[WriteResult]:
    """Run `write`; when Salesforce kept refusing it for too many concurrent long-running requests
    (REQUEST_LIMIT_EXCEEDED other than the daily total), every record stays in the outbox."""
    try:
        return write()
    except VendorUnavailable as exc:
        codes = {str(e.get("errorCode")) for e in exc.json or [] if isinstance(e, dict)}
        if "REQUEST_LIMIT_EXCEEDED" not in codes:
            raise
        return [WriteResult(k, False, error=str(exc), retryable=True) for k in keys]


def collection(
    client: SalesforceClient, method: str, path: str, records: list[dict[str, Any]], keys: list[str]
) -> list[WriteResult]:
    """One sObject Collections call (allOrNone false); one WriteResult per record, in input order."""
    try:
        response = client.http.request(method, f"{client.data_url}{path}", json={"allOrNone": False, "records": records})
    except ClientError as exc:  # a malformed request: nothing was applied
        missing = setup_missing(exc.json or [], exc)
        if missing is not None:
            raise missing from None
        reason = "; ".join(f"{e.get('errorCode')}: {e.get('message')}" for e in exc.json or [] if isinstance(e, dict)) or str(exc)
        return [WriteResult(k, False, error=reason) for k in keys]
    answer = client.json(response, "sObject Collections")
    if not isinstance(answer, list) or len(answer) != len(records):
        raise ConnectorError(f"Salesforce answered {path} with {type(answer).__name__}, not one result per record")
    # Results come back in input order (documented for sObject Collections).
    # A transient per-record error (a row lock) stays in the outbox for the next run.
    return [WriteResult(k, True, external_id=item.get("id")) if item.get("success")
            else WriteResult(k, False, error=describe_errors(item), retryable=is_transient(item))
            for k, item in zip(keys, answer)]


def push_scores(client: SalesforceClient, settings: SalesforceSettings, updates: Sequence[ScoreUpdate]) -> list[WriteResult]:
    """Update the leadsync score fields of each Lead by id."""
    f = settings.field
    results: dict[str, WriteResult] = {}
    records, keys = [], []
    for u in updates:
        if not u.record_id:
            results[u.key] = WriteResult(u.key, False, error="no Salesforce Lead id for this lead")
            continue
        records.append({"attributes": {"type": "Lead"}, "id": u.record_id, f("score"): u.score,
                        f("behavior_score"): u.behavior_score, f("attribute_score"): u.attribute_score,
                        f("segment"): u.segment.value, f("sheet_version"): u.sheet_version,
                        f("scored_at"): u.scored_at.isoformat(timespec="seconds")})
        keys.append(u.key)
    if records:
        for result in collection(client, "PATCH", "/composite/sobjects", records, keys):
            results[result.key] = result
    return [results[u.key] for u in updates]
