"""A connection's clock against ours: where a read's window ends and how far it looks back."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from leadsync.connectors.base import Connector
from leadsync.core.state.store import StateStore

__all__ = ["note_vendor_clock", "on_vendor_clock"]

log = logging.getLogger("leadsync.core.sync.engine")  # the run's messages keep the engine's logger

_DATE_RESOLUTION_S = 1.0


def on_vendor_clock(store: StateStore, connector: Connector, name: str, signpost: datetime,
                     lookback: timedelta) -> tuple[datetime, timedelta]:
    """The read's signpost and look-back on the vendor's clock.

    A vendor clock ahead of ours moves the signpost forward (what it stamped up to its now is
    read); one behind ours widens the look-back by the difference, because the previous cursor was
    placed on our clock, ahead of what the vendor has stamped since. The skew is the one measured
    now (from answers this run already had) or in the previous run.
    """
    skews = [s for s in (connector.clock_skew(), store.kv_get(f"clock_skew:{name}")) if s is not None]
    if not skews:
        return signpost, lookback
    # A Date header has whole seconds: the skew is known to about a second either way, so both
    # ends are widened by that much (the look-back re-reads what the wider end may overshoot).
    ahead = max([0.0, *(s + _DATE_RESOLUTION_S for s in skews)])
    behind = max([0.0, *(_DATE_RESOLUTION_S - s for s in skews)])
    return signpost + timedelta(seconds=ahead), lookback + timedelta(seconds=behind)


def note_vendor_clock(store: StateStore, connector: Connector, name: str, warn_s: float) -> None:
    """Keep the skew this run measured for the next run, and warn when it is larger than `warn_s`."""
    skew = connector.clock_skew()
    if skew is None:
        return
    if abs(skew) > warn_s:
        log.warning("%s: the vendor's clock is %.0f s %s this host's; cursors follow the vendor's clock (check NTP)",
                    name, abs(skew), "ahead of" if skew > 0 else "behind")
    store.kv_set(f"clock_skew:{name}", round(skew, 1))
