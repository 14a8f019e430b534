"""What-if patches for the leadsync side, to put figures on proposed fixes (never on by default).

Each experiment monkeypatches the engine or toolkit inside the bench's own worker process only;
`python bench/run.py --experiment NAME` names them in the report's header.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["EXPERIMENTS", "apply_experiments", "prepare_state"]


def _limiter_no_header_block() -> None:
    """Rate-limit headers only report an exhausted quota; the client's own sliding window does the pacing.

    Stock: X-HubSpot-RateLimit-Remaining = 0 blocks the bucket for a whole interval (10 s) from
    that answer, although the client's own window frees a place as soon as its oldest call is 10 s old.
    """
    import httpx

    from leadsync.connectors.ratelimit import RateLimiter

    def update_from_headers(self: RateLimiter, endpoint: str, headers: object) -> None:
        hint = self._header_parser(httpx.Headers(headers))
        if hint.quota_exhausted:
            self.exhaust(hint.quota_exhausted)
        elif hint.wait_s > 0 and self._window_key(endpoint) is None:
            self.block(endpoint, hint.wait_s)

    RateLimiter.update_from_headers = update_from_headers  # type: ignore[method-assign]


def _limiter_margin() -> None:
    """Each window 25 ms longer than the vendor's, so jitter never lands a sixth call inside a second."""
    from leadsync.connectors.ratelimit import Rate, RateLimiter

    original = RateLimiter.__init__

    def __init__(self: RateLimiter, rates: object = None, **kwargs: object) -> None:
        original(self, rates, **kwargs)  # type: ignore[arg-type]
        self.rates = {name: Rate(rate.calls, rate.period + 0.025) for name, rate in self.rates.items()}

    RateLimiter.__init__ = __init__  # type: ignore[method-assign]


def _outbox_keyset() -> None:
    """dispatch reads only the pending rows after the last one it sent, not `size + attempted` rows each batch."""
    from leadsync.core.state import outbox

    last_id: dict[tuple[str, str], int] = {}
    batch: dict[tuple[str, str], int] = {}

    original = outbox.pending

    def pending(db: object, connection: str, kind: str, limit: int, **_: object) -> list:
        key = (connection, kind)
        after = last_id.get(key, 0)
        # dispatch asks for `size + attempted`; its first call (nothing attempted yet) tells the size.
        size = batch.setdefault(key, limit)
        found = original(db, connection, kind, size, after_id=after)
        if found:
            last_id[key] = found[-1].id
        else:
            last_id.pop(key, None)  # the dispatch loop ends here; the next dispatch starts over
            batch.pop(key, None)
        return found

    outbox.pending = pending  # type: ignore[assignment]


def _read_ahead() -> None:
    """Each stream's next page is fetched in a thread while the engine stores the current one (2 pages ahead).

    Pages still reach the engine in order, each with its cursor, so checkpoints mean what they meant.
    """
    import queue
    import threading

    from leadsync_hubspot.connector import HubSpotConnector

    done = object()

    def ahead(pages: Iterator[Any], depth: int = 2) -> Iterator[Any]:
        buffer: queue.Queue[Any] = queue.Queue(maxsize=depth)
        stop = threading.Event()

        def produce() -> None:
            try:
                for page in pages:
                    if stop.is_set():
                        return
                    buffer.put(page)
                buffer.put(done)
            except BaseException as exc:  # handed to the consumer, raised there
                buffer.put(exc)

        threading.Thread(target=produce, daemon=True).start()
        try:
            while (item := buffer.get()) is not done:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()

    original = HubSpotConnector.streams

    def streams(self: HubSpotConnector) -> list[Any]:
        found = original(self)
        for stream in found:
            stream.read = lambda ctx, inner=stream.read: ahead(inner(ctx))  # type: ignore[method-assign]
        return found

    HubSpotConnector.streams = streams  # type: ignore[method-assign]


def _outbox_lead_index() -> None:
    """Nothing to patch at import: `prepare_state` adds the index (see there)."""


EXPERIMENTS: dict[str, Callable[[], None]] = {
    "limiter-no-header-block": _limiter_no_header_block,
    "limiter-margin": _limiter_margin,
    "outbox-keyset": _outbox_keyset,
    "outbox-lead-index": _outbox_lead_index,
    "read-ahead": _read_ahead,
}


def apply_experiments(names: list[str]) -> None:
    """Install the named patches in this process."""
    for name in names:
        if name not in EXPERIMENTS:
            raise ValueError(f"unknown experiment {name!r}; known: {', '.join(EXPERIMENTS)}")
        EXPERIMENTS[name]()


def prepare_state(path: Path, names: list[str]) -> None:
    """Schema-side experiments on the bench's own state store, before the run."""
    if "outbox-lead-index" not in names:
        return
    from leadsync.core.state.store import StateStore

    # plan_score_pushes supersedes older pending rows of a lead with one UPDATE per planned row; the
    # index on (connection, kind, lead_key) that makes it cheap is part of the schema (migration 1)
    # since this experiment, so opening the store is all it takes now.
    StateStore(path).close()
