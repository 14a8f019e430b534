"""A first sync's choice per engagement object: the list API or search, whichever finishes sooner.

HubSpot has two budgets: the ten-secondly bucket (lists, batch reads, writes) and the search bucket
(5 a second, its own). A first sync reads every record, so an object can be read either way:

- list: ``GET /crm/v3/objects/{type}?associations=contacts``, 100 records a page with their contact
  ids inline, on the ten-secondly bucket;
- search: 200 records a page on the search bucket, plus one associations batch read per 1,000
  records on the ten-secondly bucket.

The contacts list always runs on the ten-secondly bucket. Each object is given the way that makes
the later-finishing bucket finish soonest (every assignment is tried: there are a handful of
objects). The totals come from one search per object asking for one record (`total`).
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Iterable

from leadsync.connectors import ConnectorError, HttpClient

from leadsync_hubspot.client import SEARCH
from leadsync_hubspot.settings import DEFAULT_REQUESTS_PER_10S, HubSpotSettings

__all__ = ["FirstSyncPlan", "choose_listed"]

LIST_PAGE, SEARCH_PAGE, ASSOCIATIONS_BATCH = 100, 200, 1000


def _seconds(totals: dict[str, int], listed: Iterable[str], contacts: int, per_s: float, search_per_s: float) -> float:
    listed = set(listed)
    default = math.ceil(contacts / LIST_PAGE)
    search = 0
    for obj, count in totals.items():
        if obj in listed:
            default += math.ceil(count / LIST_PAGE)
        else:
            search += math.ceil(count / SEARCH_PAGE)
            default += math.ceil(count / ASSOCIATIONS_BATCH)
    return max(default / per_s, search / search_per_s)


def choose_listed(totals: dict[str, int], *, contacts: int, per_s: float, search_per_s: float) -> set[str]:
    """The objects to list; the rest are searched. On a tie, search (fewer requests)."""
    best: tuple[float, int] | None = None
    chosen: set[str] = set()
    objects = sorted(totals)
    for size in range(len(objects) + 1):
        for listed in itertools.combinations(objects, size):
            key = (_seconds(totals, listed, contacts, per_s, search_per_s), size)
            if best is None or key < best:
                best, chosen = key, set(listed)
    return chosen


class FirstSyncPlan:
    """Asked by each engagement stream on its first sync; counts the records once, on first ask."""

    def __init__(self, client: HttpClient, settings: HubSpotSettings, objects: Iterable[str]) -> None:
        self.client, self.settings, self.objects = client, settings, list(objects)
        self._lock = threading.Lock()
        self._listed: set[str] | None = None

    def lists(self, object_type: str) -> bool:
        """Whether a first sync of `object_type` should use the list API."""
        with self._lock:
            if self._listed is None:
                self._listed = set()  # if counting fails, the others search (and meet the same error there)
                totals = {obj: self._total(obj) for obj in self.objects}
                contacts = self._total("contacts")
                if None in totals.values() or contacts is None:
                    self._listed = set()  # a count is unknown: search, as an incremental read does
                else:
                    self._listed = choose_listed(
                        {k: v for k, v in totals.items() if v is not None}, contacts=contacts,
                        per_s=self._per_second(), search_per_s=float(self.settings.search_rate))
        return object_type in self._listed

    def _per_second(self) -> float:
        """The ten-secondly budget per second: set by hand, else what HubSpot has announced so far
        (the contacts list runs beside the counts), else the conservative default."""
        limiter = self.client.limiter
        rate = limiter.rates.get("default") if limiter is not None else None
        if rate is not None:
            return rate.calls / rate.period
        return (self.settings.requests_per_10s or DEFAULT_REQUESTS_PER_10S) / 10.0

    def _total(self, object_type: str) -> int | None:
        body = {"filterGroups": [], "properties": ["hs_object_id"], "limit": 1}
        response = self.client.post(f"/crm/v3/objects/{object_type}/search", json=body, endpoint=SEARCH, idempotent=True)
        try:
            total = response.json().get("total")
        except (ValueError, AttributeError):
            raise ConnectorError(f"HubSpot {object_type} search answered with a body that is not a JSON object") from None
        return int(total) if isinstance(total, int) and total >= 0 else None
