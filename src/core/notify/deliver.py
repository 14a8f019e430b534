"""Sending the notices waiting in the outbox, one at a time, each recorded as its channel answers."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from leadsync.connectors.redact import redact
from leadsync.core.config import Settings
from leadsync.core.notify.channels import Channel, NotDelivered, Refused
from leadsync.core.notify.messages import render
from leadsync.core.state import notices as state
from leadsync.core.state.store import StateStore
from leadsync.core.state import outbox

__all__ = ["DeliveryCounts", "deliver", "language_of"]

log = logging.getLogger(__name__)


@dataclass
class DeliveryCounts:
    sent: int = 0
    waiting: int = 0  # the channel is down: these wait for the next run
    refused: int = 0
    unconfirmed: int = 0
    down: dict[str, str] = field(default_factory=dict)


def language_of(channel: Channel, settings: Settings) -> str:
    return channel.settings.language or settings.notify.language or settings.handoff.language


def deliver(store: StateStore, channels: dict[str, Channel], settings: Settings) -> DeliveryCounts:
    """Send every pending notice of every channel. A channel that is down keeps its notices for
    the next run; one that refuses a notice keeps it as `dead`. Nothing here raises to the run.

    Each notice is marked as being sent (committed) before the call. A notice found already
    marked, never acknowledged (a crash or a lost answer), is resent only on a channel that
    recognises a resend (`Channel.idempotent`); elsewhere it becomes `unconfirmed`, never a duplicate.
    """
    counts = DeliveryCounts()
    for name, channel in channels.items():
        connection = f"notify:{name}"
        language = language_of(channel, settings)
        last_id = 0
        while name not in counts.down:
            rows = outbox.pending(store.db, connection, state.NOTICE_KIND, 50, after_id=last_id)
            if not rows:
                break
            for row in rows:
                last_id = row.id
                if name in counts.down:
                    counts.waiting += 1
                    continue
                if row.sends > 0 and not channel.idempotent:
                    with store.transaction() as db:
                        state.mark_unconfirmed(db, row.key, "an earlier send was not acknowledged (the run died or "
                                                            "the answer was lost); not resent, to avoid a duplicate")
                    counts.unconfirmed += 1
                    log.warning("notify %s: notice %s may or may not have arrived; not resent", name, row.key)
                    continue
                notice = render(row.payload["event"], row.key, row.payload["data"], language=language,
                                tz=settings.scoring.timezone)
                with store.transaction() as db:
                    outbox.mark_sending(db, [row.id])
                try:
                    channel.send(notice)
                except NotDelivered as exc:
                    with store.transaction() as db:
                        state.unsend(db, row.key)
                        outbox.mark_retry(db, row.key, str(exc))
                    counts.down[name] = redact(exc)
                    counts.waiting += 1
                    log.warning("notify %s is down (%s); its notices wait for the next run", name, redact(exc))
                except Refused as exc:
                    with store.transaction() as db:
                        outbox.mark_dead(db, row.key, str(exc))
                    counts.refused += 1
                    log.warning("notify %s refused notice %s: %s", name, row.key, redact(exc))
                except Exception as exc:  # the outcome is unknown
                    with store.transaction() as db:
                        outbox.mark_retry(db, row.key, f"{type(exc).__name__}: {exc}")
                    counts.down[name] = redact(exc)
                    counts.waiting += 1
                    log.warning("notify %s: no answer for notice %s (%s)", name, row.key, redact(exc))
                else:
                    with store.transaction() as db:
                        outbox.mark_done(db, row.key, None)
                    counts.sent += 1
    if counts.sent or counts.waiting or counts.refused or counts.unconfirmed:
        log.info("notifications: %d sent, %d waiting, %d refused, %d unconfirmed", counts.sent, counts.waiting,
                 counts.refused, counts.unconfirmed)
    return counts
