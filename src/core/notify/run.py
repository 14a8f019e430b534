"""Notices of one sync run: recorded in the outbox as events happen, sent when the run ends.

Every notice has its own idempotency key (event, subject, channel), so recording one twice is a
no-op: the hook implementations record them as they fire, and the end of the run catches up on
any whose hook a crash (kill -9) cut off. Sending never fails the run.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from leadsync.connectors.hookspecs import hookimpl
from leadsync.core.config import Settings
from leadsync.core.errors import EXIT_CONFIG, EXIT_CONNECTION, EXIT_LOCKED
from leadsync.core.models import Lead
from leadsync.core.notify.channels import Channel, open_channels
from leadsync.core.notify.deliver import deliver
from leadsync.core.state import notices as state
from leadsync.core.state.store import StateStore
from leadsync.core.state import outbox

__all__ = ["RunNotices", "attach", "handoff_data"]

log = logging.getLogger(__name__)

CATCH_UP_S = 7 * 86400  # how far back the end of a run looks for notices a crash cut off


def _field(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    try:
        return getattr(obj, name, None)
    except Exception:
        return None


def handoff_data(facts: dict[str, Any], settings: Settings, as_of: float) -> dict[str, Any]:
    """The documented `data` of a handoff notice."""
    lead = Lead.model_validate({k: v for k, v in facts["lead"].items() if k in Lead.model_fields})
    template = settings.notify.record_urls.get(facts["connection"])
    record_id = facts["record_id"]
    return {
        "handoff_id": facts["id"], "lead_key": facts["lead_key"], "email": lead.email, "name": lead.name or None,
        "company": lead.company, "title": lead.title, "lead_source": lead.lead_source, "score": facts["score"],
        "reasons": [{"rule": r["rule"], "points": r["points"]} for r in facts["reasons"]][:settings.handoff.task_reasons],
        "owner": facts["owner"], "opened_at": facts["opened_at"], "due_at": facts["due_at"],
        "overdue_s": max(0.0, as_of - facts["due_at"]), "connection": facts["connection"], "record_id": record_id,
        "record_url": template.format(record_id=record_id) if template and record_id else None,
        "task_key": facts["task_key"],
    }


class RunNotices:
    """The notification plugin for one run: registered on the hooks while the run lasts."""

    def __init__(self, store: StateStore, settings: Settings, host: Any, channels: dict[str, Channel],
                 as_of: datetime) -> None:
        self.store = store
        self.settings = settings
        self.host = host
        self.channels = channels
        self.as_of = as_of.timestamp()

    # --- hook implementations ------------------------------------------------------------------
    @hookimpl
    def handoff_created(self, handoff: Any, task: Any) -> None:
        self._record_handoff("handoff_created", handoff, _field(task, "key"))

    @hookimpl
    def handoff_overdue(self, handoff: Any, lead: Any) -> None:
        self._record_handoff("handoff_overdue", handoff, None)

    def _record_handoff(self, event: str, handoff: Any, task_key: str | None) -> None:
        handoff_id = _field(handoff, "id")
        task_key = _field(handoff, "task_key") or task_key
        with self.store.transaction() as db:
            facts = state.handoff_facts(db, handoff_id=handoff_id) if handoff_id is not None else \
                state.handoff_facts(db, task_key=task_key)
            if facts is not None:
                self._enqueue_handoff(db, event, facts)

    def _enqueue_handoff(self, db: Any, event: str, facts: dict[str, Any]) -> None:
        data = None
        for name, channel in self.channels.items():
            if event not in channel.settings.events:
                continue
            data = data or handoff_data(facts, self.settings, self.as_of)
            self._enqueue(db, name, event, f"h{facts['id']}", data, facts["lead_key"])

    def _enqueue(self, db: Any, channel: str, event: str, subject: str, data: dict[str, Any], lead_key: str = "") -> bool:
        return outbox.enqueue(db, key=f"notice:{event}:{subject}:{channel}", connection=f"notify:{channel}",
                              kind=state.NOTICE_KIND, lead_key=lead_key, payload={"event": event, "data": data})

    # --- the end of the run --------------------------------------------------------------------
    def after_run(self, summary: Any) -> None:
        """Record the run's own notices, catch up on any a crash cut off, then send. Never raises."""
        if not self.channels:
            return
        try:
            self._record_run(summary)
        except Exception as exc:  # a notification problem must not fail the sync
            log.warning("notifications: could not record this run's notices: %s", exc)
        try:
            deliver(self.store, self.channels, self.settings)
        except Exception as exc:
            log.warning("notifications: sending stopped: %s", exc)

    def _record_run(self, summary: Any) -> None:
        now = time.time()
        with self.store.transaction() as db:
            for name, channel in self.channels.items():
                since = state.channel_since(db, name, now)
                events = channel.settings.events
                window = max(since, now - CATCH_UP_S)
                if "handoff_created" in events:
                    for handoff_id in state.created_since(db, window):
                        self._enqueue_one(db, name, "handoff_created", handoff_id)
                if "handoff_overdue" in events:
                    for handoff_id in state.overdue_since(db, max(since, self.as_of - CATCH_UP_S)):
                        self._enqueue_one(db, name, "handoff_overdue", handoff_id)
                if "run_failed" in events:
                    self._run_failed(db, name, summary)
                if "dead_letters" in events and summary.dead_lettered:
                    count, newest, reasons = state.dead_letter_mark(db)
                    if count >= self.settings.notify.dead_letters_threshold:
                        self._enqueue(db, name, "dead_letters", f"d{newest}",
                                      {"count": count, "this_run": summary.dead_lettered, "reasons": reasons,
                                       "run_id": summary.run_id})
                if "digest" in events:
                    self._digest(db, name, now)

    def _enqueue_one(self, db: Any, channel: str, event: str, handoff_id: int) -> None:
        facts = state.handoff_facts(db, handoff_id=handoff_id)
        if facts is not None:
            self._enqueue(db, channel, event, f"h{handoff_id}", handoff_data(facts, self.settings, self.as_of),
                          facts["lead_key"])

    def _run_failed(self, db: Any, channel: str, summary: Any) -> None:
        if summary.exit_status not in (EXIT_CONFIG, EXIT_LOCKED, EXIT_CONNECTION) or summary.run_id is None:
            return
        failures = dict(summary.to_json().get("failures") or {})  # redacted
        previous = state.previous_run(db, summary.run_id)
        if previous is not None and previous["exit_status"] == summary.exit_status \
                and sorted((previous["summary"].get("failures") or {})) == sorted(failures):
            return  # the same failure as the last run: told once per streak, not every cron tick
        reason = "; ".join(f"{name}: {error}" for name, error in failures.items()) or f"exit {summary.exit_status}"
        self._enqueue(db, channel, "run_failed", f"run{summary.run_id}",
                      {"run_id": summary.run_id, "exit_status": summary.exit_status, "reason": reason,
                       "failures": failures})

    def _digest(self, db: Any, channel: str, now: float) -> None:
        zone = ZoneInfo(self.settings.scoring.timezone)
        local = datetime.fromtimestamp(now, tz=timezone.utc).astimezone(zone)
        if local.hour < self.settings.notify.digest_hour:
            return
        figures = state.digest_figures(db, self.as_of)
        self._enqueue(db, channel, "digest", local.date().isoformat(), {"date": local.date().isoformat(), **figures})

    def close(self) -> None:
        for channel in self.channels.values():
            try:
                channel.close()
            except Exception:
                pass


class _Attached:
    """What `attach` returns: the run's notices, unregistered again by `detach`."""

    def __init__(self, host: Any, notices: RunNotices | None) -> None:
        self.host = host
        self.notices = notices

    def after_run(self, summary: Any) -> None:
        if self.notices is not None:
            self.notices.after_run(summary)

    def detach(self) -> None:
        if self.notices is not None:
            self.notices.close()
            if self.host.pm.is_registered(self.notices):
                self.host.pm.unregister(self.notices)
            self.notices = None


def attach(store: StateStore, settings: Settings, host: Any, as_of: datetime, *, dry_run: bool) -> _Attached:
    """Register this run's notification plugin on the hooks (nothing for a dry run or no channels).

    The channel tables are validated here: a bad one is a ConfigError (exit 2) before the run starts.
    """
    channels = open_channels(settings, host)
    if dry_run or not channels or store.path is None:
        return _Attached(host, None)
    notices = RunNotices(store, settings, host, channels, as_of)
    host.pm.register(notices, name=f"leadsync-notify-run-{id(notices)}")
    return _Attached(host, notices)
