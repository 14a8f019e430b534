"""The time window of one incremental read: start (cursor minus look-back), end (the signpost), clamp."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from leadsync.connectors.base import ReadContext

__all__ = ["Incremental"]


@dataclass(frozen=True)
class Incremental:
    """Where one run of an incremental stream reads from and up to, and what it may store after.

    `since` is the watermark the last complete read stored, or, on a first run or a full refresh,
    the configured start (None: from the beginning). `start` is where this run reads from: `since`
    minus the look-back, because a vendor may commit changes late and out of order (the engine
    deduplicates what is read twice). `end` is the run's signpost: changes after it are read next
    run, so a stored watermark never passes it.
    """

    since: datetime | None
    start: datetime | None
    end: datetime

    @classmethod
    def of(
        cls,
        ctx: ReadContext,
        stored: datetime | None,
        *,
        initial: timedelta | None = None,
        lookback: timedelta | None = None,
    ) -> Incremental:
        """The window of this run: `stored` is the cursor's watermark (ignored on a full refresh);
        `initial` how far before the signpost a first run reaches (None: everything); `lookback`
        the overlap (default: the run's)."""
        since = None if ctx.full_refresh else stored
        if since is None and initial is not None:
            since = ctx.signpost - initial
        overlap = ctx.lookback if lookback is None else lookback
        return cls(since, since - overlap if since is not None else None, ctx.signpost)

    @property
    def resumed(self) -> bool:
        """True when `since` may be moved forward by `advance` (there is a lower bound)."""
        return self.since is not None

    def clamp(self, moment: datetime) -> datetime:
        """`moment`, never past the signpost."""
        return min(moment, self.end)

    def advance(self, newest: datetime | None) -> datetime:
        """The watermark to store after a complete read: the newest change seen, never behind
        `since` and never past the signpost."""
        candidates = [m for m in (newest, self.since) if m is not None]
        return self.clamp(max(candidates) if candidates else self.end)
