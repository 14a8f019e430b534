"""One project's sync, in this process, through the engine `leadsync sync run` calls; no Dagster here.

The outcome carries the exit status, the JSON summary `leadsync sync run --json` prints (or, when
the run could not start, `{"run_id": null, "exit_status": N, "error": "..."}` like the CLI) and the
verdict an orchestrator acts on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from leadsync.connectors.plugins import PluginHost, get_plugin_host
from leadsync.connectors.redact import RedactingFilter, redact
from leadsync.core.cli.sync import run_json
from leadsync.core.config import load_settings
from leadsync.core.errors import (
    EXIT_CONFIG,
    EXIT_CONNECTION,
    EXIT_DEAD_LETTERS,
    EXIT_INTERRUPTED,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_STATE,
    EXIT_UNCONFIRMED,
    LeadsyncError,
)
from leadsync.core.sync.engine import RunOptions, run_sync

from leadsync_dagster.projects import Project

__all__ = ["VERDICTS", "Outcome", "Verdict", "run_project", "verdict_for"]


class Verdict(str, Enum):
    """What an orchestrator does with a run's exit status."""

    SUCCESS = "success"  # 0
    WARNING = "warning"  # 1 dead letters, 6 writes wait in the outbox: the run did its work
    FAILURE = "failure"  # 2 config, 3 locked, 4 connection, 5 state store: a person must look
    RETRY = "retry"  # 7 interrupted between batches: the next attempt resumes


VERDICTS: dict[int, Verdict] = {
    EXIT_OK: Verdict.SUCCESS,
    EXIT_DEAD_LETTERS: Verdict.WARNING,
    EXIT_UNCONFIRMED: Verdict.WARNING,
    EXIT_CONFIG: Verdict.FAILURE,
    EXIT_LOCKED: Verdict.FAILURE,
    EXIT_CONNECTION: Verdict.FAILURE,
    EXIT_STATE: Verdict.FAILURE,
    EXIT_INTERRUPTED: Verdict.RETRY,
}


def verdict_for(exit_status: int) -> Verdict:
    """The verdict for an exit status; an unknown status is a failure."""
    return VERDICTS.get(exit_status, Verdict.FAILURE)


@dataclass
class Outcome:
    """How one project's run ended."""

    project: Project
    exit_status: int
    summary: dict[str, Any]
    error: str | None = None
    log_lines: list[tuple[int, str]] = field(default_factory=list)  # (level, redacted message)

    @property
    def verdict(self) -> Verdict:
        return verdict_for(self.exit_status)

    def describe(self) -> str:
        """One line for people: project, exit status and what happened."""
        s = self.summary
        if self.error:
            return f"leadsync {self.project.name}: exit {self.exit_status}: {self.error}"
        parts = [f"run {s.get('run_id')}", f"exit {self.exit_status}", f"{s.get('tasks_created', 0)} task(s) created",
                 f"{s.get('scores_pushed', 0)} score(s) pushed", f"{s.get('dead_lettered', 0)} dead-lettered",
                 f"{s.get('retry_later', 0)} waiting in the outbox"]
        if s.get("interrupted"):
            parts.append(f"interrupted: {s['interrupted']}")
        if s.get("failures"):
            parts.append("failed: " + "; ".join(f"{k}: {v}" for k, v in s["failures"].items()))
        return f"leadsync {self.project.name}: " + ", ".join(parts)


class _Collect(logging.Handler):
    """Keeps the engine's log records (INFO and up), secrets masked, and hands each to `forward`."""

    def __init__(self, forward: Callable[[int, str], Any] | None) -> None:
        super().__init__(logging.INFO)
        self.addFilter(RedactingFilter())
        self.lines: list[tuple[int, str]] = []
        self.forward = forward

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith("leadsync"):
            return
        line = (record.levelno, f"{record.name}: {record.getMessage()}")
        self.lines.append(line)
        if self.forward is not None:
            self.forward(*line)


@contextmanager
def _collected(forward: Callable[[int, str], Any] | None) -> Iterator[_Collect]:
    root, engine = logging.getLogger(), logging.getLogger("leadsync")
    handler = _Collect(forward)
    previous = engine.level
    root.addHandler(handler)  # plugins log under their own names (leadsync_hubspot...): catch them too
    if engine.getEffectiveLevel() > logging.INFO:
        engine.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        engine.setLevel(previous)


def run_project(project: Project, *, max_duration_s: float | None = None, host: PluginHost | None = None,
                log: Callable[[int, str], Any] | None = None) -> Outcome:
    """Run `leadsync --config PROJECT sync run` once in this process and report how it ended.

    `max_duration_s` stops the run between batches after that long (exit 7, resumed next time),
    like `--max-duration`. `log(level, line)` receives the engine's log lines as they happen.
    Errors the CLI reports as one line (configuration, lock, state store) become the outcome;
    anything else propagates.
    """
    with _collected(log) as collected:
        try:
            settings = load_settings(project.config)
            summary = run_sync(settings, host or get_plugin_host(), RunOptions(max_duration_s=max_duration_s))
        except LeadsyncError as exc:
            message = redact(str(exc))
            return Outcome(project, exc.exit_code, {"run_id": None, "exit_status": exc.exit_code, "error": message},
                           message, collected.lines)
        return Outcome(project, summary.exit_status, run_json(summary, settings.scoring.timezone), None,
                       collected.lines)
