"""Incremental CRM search reads that never hit the 10,000-result cap and never skip a record.

HubSpot search answers at most 10,000 results per query (paging further is a 400) and allows one
sort. So a read is cut into slices of the modification date, ``(lo, hi]``, and each slice is paged
by keyset: ``hs_object_id > last id`` sorted by ``hs_object_id``, always asking for the first page.
No query ever pages with ``after``, a burst of any size sharing one timestamp is read completely, and
the cursor ``{lo, hi, after_id}`` checkpoints every page.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from leadsync.connectors import ConnectorError, HttpClient, Incremental, ReadContext

from leadsync_hubspot.client import SEARCH

__all__ = ["SearchSlice", "epoch_ms", "search_pages"]

PAGE_SIZE = 200  # the search maximum


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch, exactly (no float rounding)."""
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def from_ms(value: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=value)


@dataclass
class SearchSlice:
    """One search page's records and the cursor to store with them."""

    results: list[dict[str, Any]]
    cursor: dict[str, Any]


def _post_search(client: HttpClient, object_type: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/crm/v3/objects/{object_type}/search", json=body, endpoint=SEARCH, idempotent=True)
    try:
        payload = response.json()
    except ValueError:
        raise ConnectorError(f"HubSpot {object_type} search answered with a body that is not JSON") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("results"), list):
        raise ConnectorError(f"HubSpot {object_type} search answer has no results list")
    return payload


def _first_modified_after(
    client: HttpClient, object_type: str, date_prop: str, lo: int, hi: int, filters: list[dict]
) -> int | None:
    """The earliest modification time in (lo, hi], to skip empty stretches in one call."""
    body = {
        "filterGroups": [{"filters": [*filters, *_window(date_prop, lo, hi)]}],
        "sorts": [{"propertyName": date_prop, "direction": "ASCENDING"}],
        "properties": [date_prop],
        "limit": 1,
    }
    results = _post_search(client, object_type, body)["results"]
    if not results:
        return None
    value = (results[0].get("properties") or {}).get(date_prop)
    try:
        return _to_ms(value)
    except (TypeError, ValueError):
        return lo  # unreadable date: no skipping, read from lo


def _to_ms(value: Any) -> int:
    text = str(value)
    if text.isdigit():
        return int(text)
    return epoch_ms(datetime.fromisoformat(text.replace("Z", "+00:00")))


def _window(date_prop: str, lo: int, hi: int) -> list[dict[str, str]]:
    return [
        {"propertyName": date_prop, "operator": "GT", "value": str(lo)},
        {"propertyName": date_prop, "operator": "LTE", "value": str(hi)},
    ]


def search_pages(
    client: HttpClient,
    object_type: str,
    *,
    date_prop: str,
    properties: list[str],
    ctx: ReadContext,
    filters: list[dict] | None = None,
    window_ms: int,
) -> Iterator[SearchSlice]:
    """Pages of records modified after the cursor and up to the run's signpost.

    Without a cursor the read starts at the beginning of time; with one, the look-back before it.
    """
    filters = list(filters or [])
    cursor = dict(ctx.cursor or {}) if not ctx.full_refresh else {}
    window = Incremental.of(ctx, from_ms(int(cursor["lo"])) if "lo" in cursor else None)
    signpost = epoch_ms(window.end)
    if cursor.get("after_id") is not None and cursor.get("hi") is not None:
        lo, hi, after_id = int(cursor["lo"]), int(cursor["hi"]), str(cursor["after_id"])
    else:
        lo = max(-1, epoch_ms(window.start)) if window.start is not None else -1
        hi, after_id = None, None
    wanted = sorted({*properties, date_prop, "hs_object_id"})
    while True:
        if hi is None:
            if lo >= signpost:
                return
            hi = signpost
            if signpost - lo > window_ms:
                first = _first_modified_after(client, object_type, date_prop, lo, signpost, filters)
                if first is None:
                    yield SearchSlice([], {"lo": signpost})
                    return
                hi = min(signpost, max(first, lo + 1) + window_ms)
        keyset = [{"propertyName": "hs_object_id", "operator": "GT", "value": after_id}] if after_id else []
        body = {
            "filterGroups": [{"filters": [*filters, *_window(date_prop, lo, hi), *keyset]}],
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "properties": wanted,
            "limit": PAGE_SIZE,
        }
        results = _post_search(client, object_type, body)["results"]
        last_id = _last_id(results, after_id)
        if len(results) < PAGE_SIZE:
            # The slice is read: the next one starts where this one ended.
            lo, hi, after_id = hi, None, None
            yield SearchSlice(results, {"lo": lo})
        else:
            if last_id is None or last_id == after_id:
                raise ConnectorError(f"HubSpot {object_type} search returned a full page with no new record id")
            after_id = last_id
            yield SearchSlice(results, {"lo": lo, "hi": hi, "after_id": after_id})


def _last_id(results: list[dict[str, Any]], previous: str | None) -> str | None:
    best = int(previous) if previous else None
    for record in results:
        try:
            value = int(record.get("id"))
        except (TypeError, ValueError):
            continue
        best = value if best is None or value > best else best
    return str(best) if best is not None else previous
