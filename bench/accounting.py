"""Reading the fake's request log: which request was what, phases, and the vendor's minimums."""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Budget", "Phase", "bucket_phases", "bucket_minimum", "classify", "minimum_requests", "phases",
           "summarize_requests"]

_SEARCH = re.compile(r"/crm/v3/objects/(?P<obj>\w+)/search")
_ASSOC = re.compile(r"/crm/v4/associations/(?P<obj>\w+)/contacts/batch/read")
_LIST = re.compile(r"/crm/v3/objects/(?P<obj>\w+)")
WRITES = {"/crm/v3/objects/contacts/batch/update": "score update", "/crm/v3/objects/tasks/batch/create": "task create",
          "/crm/v3/objects/contacts/batch/upsert": "contact upsert"}  # fmt: skip

# HubSpot's documented maximums (the HubSpot plugin's README; associations: developer changelog, February 2025).
LIST_PAGE, SEARCH_PAGE, ASSOCIATIONS_BATCH, WRITE_BATCH = 100, 200, 1000, 100


@dataclass(frozen=True)
class Budget:
    """The vendor's allowance: `per_10s` on the default bucket, `search_per_s` on search."""

    per_10s: int
    search_per_s: int

    def rate(self, bucket: str) -> float:
        return self.search_per_s if bucket == "search" else self.per_10s / 10.0

    def window(self, bucket: str) -> int:
        return self.search_per_s if bucket == "search" else self.per_10s


def classify(method: str, path: str) -> tuple[str, str, bool]:
    """(kind, rate-limit bucket, is a write) of one logged request."""
    if path in WRITES:
        return WRITES[path], "default", True
    if method == "POST" and (found := _SEARCH.fullmatch(path)):
        return f"{found['obj']} search", "search", False
    if method == "POST" and (found := _ASSOC.fullmatch(path)):
        return f"{found['obj']} associations", "default", False
    if method == "GET" and (found := _LIST.fullmatch(path)):
        return f"{found['obj']} list", "default", False
    return f"{method} {path}", "default", method not in ("GET", "HEAD")


@dataclass
class Phase:
    """A stretch of one run's requests: a stream's pull, or the push."""

    name: str
    first_t: float
    last_t: float
    counts: dict[str, int] = field(default_factory=dict)  # bucket -> requests
    kinds: dict[str, int] = field(default_factory=dict)
    accepted: dict[str, int] = field(default_factory=dict)  # bucket -> requests answered 2xx

    def duration(self, latency: float) -> float:
        # Log times are taken when an answer is sent; the first request left ~latency earlier.
        return self.last_t - self.first_t + latency

    def binding(self, budget: Budget) -> tuple[str, float]:
        """The bucket that limits this phase and the seconds its accepted requests need at the allowed rate.

        Refused requests (429s) do not count: the vendor did not serve them.
        """
        return max(((b, self.accepted.get(b, 0) / budget.rate(b)) for b in self.counts), key=lambda item: item[1])

    def rate_bound(self, budget: Budget) -> bool:
        """True when the phase has more requests than one window allows (a burst is not a rate)."""
        bucket, _ = self.binding(budget)
        return self.counts[bucket] > budget.window(bucket)


def _phase_name(kind: str, pushing: bool) -> str:
    if pushing:
        return "push"
    obj = kind.split()[0]
    return f"pull {obj}"


def phases(log: list[list[Any]], *, pull_end: float | None = None) -> list[Phase]:
    """Consecutive requests grouped by stream; the push starts at the first write, or after `pull_end`.

    `pull_end` is when the engine finished its last pull page, on the log's clock: the searches that
    look tasks up before creating them follow it.
    """
    found: list[Phase] = []
    pushing = False
    for time_s, method, path, status, _fault in log:
        kind, bucket, write = classify(method, path)
        pushing = pushing or write or (pull_end is not None and time_s > pull_end)
        name = _phase_name(kind, pushing)
        if not found or found[-1].name != name:
            found.append(Phase(name, time_s, time_s))
        phase = found[-1]
        phase.last_t = time_s
        phase.counts[bucket] = phase.counts.get(bucket, 0) + 1
        phase.kinds[kind] = phase.kinds.get(kind, 0) + 1
        if status is not None and 200 <= int(status) < 300:
            phase.accepted[bucket] = phase.accepted.get(bucket, 0) + 1
    return found


def bucket_phases(log: list[list[Any]], *, pull_end: float | None = None) -> list[Phase]:
    """The pull cut by rate-limit bucket ("pull (default)", "pull (search)"), then the push.

    Streams are read side by side, so one stream's requests are not consecutive: what can be held
    against an allowed rate is each bucket's requests over the span it was in use.
    """
    found: dict[str, Phase] = {}
    pushing = False
    for time_s, method, path, status, _fault in log:
        kind, bucket, write = classify(method, path)
        pushing = pushing or write or (pull_end is not None and time_s > pull_end)
        name = "push" if pushing else f"pull ({bucket})"
        phase = found.setdefault(name, Phase(name, time_s, time_s))
        phase.last_t = time_s
        phase.counts[bucket] = phase.counts.get(bucket, 0) + 1
        phase.kinds[kind] = phase.kinds.get(kind, 0) + 1
        if status is not None and 200 <= int(status) < 300:
            phase.accepted[bucket] = phase.accepted.get(bucket, 0) + 1
    return list(found.values())


def bucket_minimum(minimum: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """`minimum_requests` regrouped like `bucket_phases`."""
    grouped: dict[str, dict[str, int]] = {}
    for phase, buckets in minimum.items():
        for bucket, count in buckets.items():
            name = "push" if phase == "push" else f"pull ({bucket})"
            grouped.setdefault(name, {})[bucket] = grouped.get(name, {}).get(bucket, 0) + count
    return grouped


def summarize_requests(log: list[list[Any]]) -> dict[str, Any]:
    """Requests by kind and bucket, writes, and non-2xx answers (429s included)."""
    kinds: dict[str, int] = {}
    buckets: dict[str, int] = {}
    refused_kinds: dict[str, int] = {}
    writes = 0
    for _t, method, path, status, _fault in log:
        kind, bucket, write = classify(method, path)
        kinds[kind] = kinds.get(kind, 0) + 1
        buckets[bucket] = buckets.get(bucket, 0) + 1
        writes += write
        if status is None or not 200 <= int(status) < 300:
            label = f"{kind} {status}"
            refused_kinds[label] = refused_kinds.get(label, 0) + 1
    return {"total": len(log), "kinds": kinds, "buckets": buckets, "writes": writes,
            "refused": sum(refused_kinds.values()), "refused_kinds": refused_kinds}  # fmt: skip


def _engagement_ways(records: int) -> dict[str, dict[str, int]]:
    return {"search": {"search": max(1, math.ceil(records / SEARCH_PAGE)), "default": math.ceil(records / ASSOCIATIONS_BATCH)},
            "list": {"default": max(1, math.ceil(records / LIST_PAGE))}}  # fmt: skip


def _floor(minimum: dict[str, dict[str, int]], budget: Budget) -> float:
    return max(sum(m.get(b, 0) for m in minimum.values()) / budget.rate(b) for b in ("default", "search"))


def minimum_requests(pulled: dict[str, int], *, scores: int, tasks: int, first_sync: bool,
                     budget: Budget | None = None) -> dict[str, dict[str, int]]:
    """The fewest requests HubSpot's documented batch sizes allow, by phase and bucket.

    A first sync lists contacts (100 a page); every other read is a search (200 a page); each run
    reads one page of the contacts' recycling bin (the list API) for deleted contacts; and an
    engagement page needs its contacts (associations batch read, 1,000 ids). On a first sync an
    engagement object may instead be listed (100 a page, contact ids inline, ten-secondly bucket):
    given the budget, each object is read the way that gives the lowest floor (both buckets in
    parallel). An incremental read with nothing new still costs one (empty) search.
    """
    minimum = _minimum(pulled, scores=scores, tasks=tasks, first_sync=first_sync)
    objects = [s for s in pulled if s.startswith("activities_")]
    if not first_sync or budget is None or not objects:
        return minimum
    best = minimum
    for ways in itertools.product(("search", "list"), repeat=len(objects)):
        trial = dict(minimum)
        for stream, way in zip(objects, ways):
            trial[f"pull {stream.split('_', 1)[1]}"] = _engagement_ways(pulled[stream])[way]
        if _floor(trial, budget) < _floor(best, budget):
            best = trial
    return best


def _minimum(pulled: dict[str, int], *, scores: int, tasks: int, first_sync: bool) -> dict[str, dict[str, int]]:
    minimum: dict[str, dict[str, int]] = {}
    for stream, records in pulled.items():
        if stream == "leads":
            # plus one page of the recycling bin (deleted contacts), on the ten-secondly bucket
            if first_sync:
                minimum["pull contacts"] = {"default": max(1, math.ceil(records / LIST_PAGE)) + 1}
            else:
                minimum["pull contacts"] = {"search": max(1, math.ceil(records / SEARCH_PAGE)), "default": 1}
        elif stream.startswith("activities_"):
            obj = stream.split("_", 1)[1]
            minimum[f"pull {obj}"] = {"search": max(1, math.ceil(records / SEARCH_PAGE)),
                                      "default": math.ceil(records / ASSOCIATIONS_BATCH)}  # fmt: skip
        elif stream == "task_updates":
            minimum["pull tasks"] = {"search": max(1, math.ceil(records / SEARCH_PAGE))}
    push = math.ceil(scores / WRITE_BATCH) + math.ceil(tasks / WRITE_BATCH)
    if push:
        minimum["push"] = {"default": push}
    return minimum
