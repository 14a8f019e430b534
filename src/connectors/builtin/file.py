"""The built-in `file` connector: leads and activities from CSV exports, scores and tasks to CSV."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from pydantic import Field, ValidationInfo, field_validator

from leadsync.connectors.base import (
    Capability,
    CheckResult,
    ConnectionSettings,
    Connector,
    Page,
    ReadContext,
    Rejected,
    ScoreUpdate,
    Stream,
    TaskRequest,
    WriteResult,
)
from leadsync.connectors.builtin.csvfiles import (
    ACTIVITY_ALIASES,
    LEAD_ALIASES,
    OPPORTUNITY_ALIASES,
    SCORE_COLUMNS,
    TASK_COLUMNS,
    TASK_TEXT_COLUMNS,
    BadRow,
    CsvTable,
    read_csv,
    read_output_rows,
    write_csv_atomic,
)
from leadsync.connectors.builtin.file_opportunities import opportunity_from_row
from leadsync.connectors.builtin.file_rows import RowContext, activity_from_row, lead_from_row
from leadsync.connectors.hookspecs import hookimpl
from leadsync.core.errors import ConfigError
from leadsync.core.models import Activity, Lead, Opportunity
from leadsync.core.normalize import nfkc, normalize_email

__all__ = ["FileConnector", "FileSettings", "register_connectors"]

PAGE_SIZE = 1000
LEADS_FILE = "leads.csv"
ACTIVITIES_FILE = "activities.csv"
OPPORTUNITIES_FILE = "opportunities.csv"
SCORES_FILE = "scores.csv"
TASKS_FILE = "tasks.csv"


class FileSettings(ConnectionSettings):
    """``[connections.NAME]`` keys of ``plugin = "file"``: the input and the output folder."""

    path: Path | None = Field(None, validate_default=True)
    output: Path | None = Field(None, validate_default=True)

    @field_validator("path")
    @classmethod
    def _path_to_read(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        roles = set(info.data.get("roles") or [])
        if value is None and (not roles or roles & {Capability.LEADS, Capability.ACTIVITIES}):
            raise ValueError("required to read: the folder holding leads.csv and activities.csv")
        return value

    @field_validator("output")
    @classmethod
    def _output_to_write(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None and set(info.data.get("roles") or []) & {Capability.SCORES, Capability.TASKS}:
            raise ValueError("required to write: the folder for scores.csv and tasks.csv")
        return value


class _CsvStream(Stream):
    """One input CSV file, streamed row by row in bounded memory; cursor = the file's SHA-256, so
    an unchanged file reads nothing. A row that cannot be read is rejected with its position."""

    file_name: ClassVar[str]
    aliases: ClassVar[dict[str, tuple[str, ...]]]

    def __init__(self, connector: FileConnector) -> None:
        self.connector = connector

    @property
    def path(self) -> Path:
        return self.connector.input_folder / self.file_name

    def load(self) -> CsvTable:
        """The decoded file with checked headers; ConfigError naming the file otherwise."""
        table = read_csv(self.path, self.aliases, field_map=self.connector.settings.fields)
        self.check_headers(table)
        return table

    def check_headers(self, table: CsvTable) -> None:
        raise NotImplementedError

    def convert(self, table: CsvTable) -> Callable[[int, dict[str, str], dict[str, str]],
                                                   Lead | Activity | Opportunity | Rejected]:
        raise NotImplementedError

    def read(self, ctx: ReadContext) -> Iterator[Page]:
        table = self.load()  # structural errors surface before any page
        if not ctx.full_refresh and ctx.cursor and ctx.cursor.get("sha256") == table.sha256:
            return
        previous = dict(ctx.cursor or {}) if not ctx.full_refresh else {}
        final = {"sha256": table.sha256}
        convert = self.convert(table)
        batch: list[Lead | Activity | Rejected] = []
        pending: list[Lead | Activity | Rejected] | None = None
        for row in table.records():
            if isinstance(row, BadRow):
                batch.append(Rejected(key=f"{self.file_name}:{row.number}",
                                      reason=f"{self.file_name}:{row.number} (byte {row.offset}): {row.reason}",
                                      payload=row.payload))
            else:
                batch.append(convert(*row))
            if len(batch) >= PAGE_SIZE:
                if pending is not None:
                    # Not the last page: keep the old cursor, so a crash re-reads the whole file.
                    yield Page(pending, previous)
                pending, batch = batch, []
        if pending is not None and batch:
            yield Page(pending, previous)
            pending = batch
        yield Page(pending if pending is not None else batch, final)

    def _row_context(self, table: CsvTable) -> RowContext:
        headers = {c: h for c, h in zip(table.columns, table.headers) if c is not None}
        return RowContext(self.connector.connection, self.connector.timezone, self.file_name, headers)


def _missing(table: CsvTable, what: str) -> ConfigError:
    found = ", ".join(h for h in table.headers if h) or "nothing"
    return ConfigError(f"{table.path}:1: missing column {what} (the header has: {found})")


class LeadsStream(_CsvStream):
    name = "leads"
    file_name = LEADS_FILE
    aliases = LEAD_ALIASES

    def check_headers(self, table: CsvTable) -> None:
        if "email" not in table.columns and "id" not in table.columns:
            raise _missing(table, "'email' or 'id'")

    def convert(self, table: CsvTable) -> Callable[[int, dict[str, str], dict[str, str]], Lead | Rejected]:
        ctx = self._row_context(table)
        return lambda number, values, extra: lead_from_row(ctx, number, values, extra)


class ActivitiesStream(_CsvStream):
    name = "activities"
    file_name = ACTIVITIES_FILE
    aliases = ACTIVITY_ALIASES

    def check_headers(self, table: CsvTable) -> None:
        if "email" not in table.columns and "lead_id" not in table.columns:
            raise _missing(table, "'email' or 'lead_id'")
        for required in ("type", "occurred_at"):
            if required not in table.columns:
                raise _missing(table, repr(required))

    def convert(self, table: CsvTable) -> Callable[[int, dict[str, str], dict[str, str]], Activity | Rejected]:
        ctx = self._row_context(table)
        emails = self.connector.emails_by_lead_id() if "lead_id" in table.columns else {}
        return lambda number, values, extra: activity_from_row(ctx, number, values, extra, emails)


class OpportunitiesStream(_CsvStream):
    """The optional opportunities.csv: nothing to read while the file does not exist."""

    name = "opportunities"
    file_name = OPPORTUNITIES_FILE
    aliases = OPPORTUNITY_ALIASES

    def check_headers(self, table: CsvTable) -> None:
        if "email" not in table.columns and "lead_id" not in table.columns:
            raise _missing(table, "'email' or 'lead_id'")
        for required in ("id", "created_at"):
            if required not in table.columns:
                raise _missing(table, repr(required))

    def convert(self, table: CsvTable) -> Callable[[int, dict[str, str], dict[str, str]], Opportunity | Rejected]:
        ctx = self._row_context(table)
        emails = self.connector.emails_by_lead_id() if "lead_id" in table.columns else {}
        return lambda number, values, extra: opportunity_from_row(ctx, number, values, extra, emails)

    def read(self, ctx: ReadContext) -> Iterator[Page]:
        if not self.path.exists():
            return iter(())
        return super().read(ctx)


class FileConnector(Connector):
    """Reads ``leads.csv`` and ``activities.csv`` from `path`; writes ``scores.csv``, ``tasks.csv`` to `output`."""

    name = "file"
    settings_model = FileSettings
    capabilities = frozenset({Capability.LEADS, Capability.ACTIVITIES, Capability.SCORES, Capability.TASKS})
    # Every write rewrites the whole output file, so fewer, larger batches are cheaper.
    batch_sizes: ClassVar[dict[str, int]] = {"scores": 10000, "tasks": 1000}

    settings: FileSettings

    @property
    def input_folder(self) -> Path:
        if self.settings.path is None:
            raise ConfigError(f"connection {self.connection}: `path` is not set, so there is nothing to read")
        return Path(os.path.expanduser(self.settings.path))

    @property
    def output_folder(self) -> Path:
        if self.settings.output is None:
            raise ConfigError(f"connection {self.connection}: `output` is not set, so there is nowhere to write")
        return Path(os.path.expanduser(self.settings.output))

    def streams(self) -> list[Stream]:
        roles = set(self.settings.roles)
        wanted: list[Stream] = [
            stream for stream in (LeadsStream(self), ActivitiesStream(self))
            if not roles or Capability(stream.name) in roles
        ]
        if not roles or Capability.ACTIVITIES in roles:  # sales outcomes come with the activities
            wanted.append(OpportunitiesStream(self))
        return wanted

    def emails_by_lead_id(self) -> dict[str, str]:
        """leads.csv id -> normalized e-mail, for activity rows that name their lead by id."""
        try:
            table = read_csv(self.input_folder / LEADS_FILE, LEAD_ALIASES, field_map=self.settings.fields)
        except ConfigError:
            return {}
        found: dict[str, str] = {}
        for row in table.records():
            if isinstance(row, BadRow):
                continue
            values = row[1]
            record_id, email = nfkc(values.get("id")), normalize_email(values.get("email"))
            if record_id and email:
                found[record_id] = email
        return found

    # --- writing ---------------------------------------------------------------------------
    def _local(self, moment: Any) -> str:
        return moment.astimezone(ZoneInfo(self.timezone)).isoformat(timespec="seconds")

    def push_scores(self, updates: Sequence[ScoreUpdate]) -> list[WriteResult]:
        """Merge scores into scores.csv by e-mail (or lead key when a lead has none)."""
        path = self.output_folder / SCORES_FILE
        try:
            rows = {row.get("email", ""): row for row in read_output_rows(path, "scores")}
            for update in updates:
                ident = update.email or update.lead_key
                rows[ident] = {
                    "email": ident,
                    "score": str(update.score),
                    "behavior_score": str(update.behavior_score),
                    "attribute_score": str(update.attribute_score),
                    "segment": update.segment.value,
                    "sheet_version": update.sheet_version,
                    "scored_at": self._local(update.scored_at),
                }
            write_csv_atomic(path, SCORE_COLUMNS, rows.values())
        except (OSError, ConfigError) as exc:
            return [WriteResult(u.key, ok=False, error=f"{path}: {exc}", retryable=True) for u in updates]
        return [WriteResult(u.key, ok=True, external_id=u.email or u.lead_key) for u in updates]

    def create_tasks(self, tasks: Sequence[TaskRequest]) -> list[WriteResult]:
        """Append tasks to tasks.csv; a `key` already in the file is acknowledged, not added again."""
        path = self.output_folder / TASKS_FILE
        try:
            rows = read_output_rows(path, "tasks")
            keys = {row.get("key") for row in rows}
            for task in tasks:
                if task.key in keys:
                    continue
                keys.add(task.key)
                rows.append({
                    "key": task.key,
                    "email": task.email or task.lead_key,
                    "owner": task.owner or "",
                    "subject": task.subject,
                    "body": task.body,
                    "due_at": self._local(task.due_at),
                    "priority": task.priority,
                })
            write_csv_atomic(path, TASK_COLUMNS, rows, text_columns=TASK_TEXT_COLUMNS)
        except (OSError, ConfigError) as exc:
            return [WriteResult(t.key, ok=False, error=f"{path}: {exc}", retryable=True) for t in tasks]
        return [WriteResult(t.key, ok=True, external_id=t.key) for t in tasks]

    # --- operations ------------------------------------------------------------------------
    def check(self) -> CheckResult:
        result = CheckResult(ok=True)
        roles = set(self.settings.roles)
        if self.settings.path is not None:
            folder = self.input_folder
            readable = folder.is_dir() and os.access(folder, os.R_OK | os.X_OK)
            result.add(f"input folder {folder}", readable, "" if readable else "missing or not readable")
            for stream in self.streams():
                if isinstance(stream, OpportunitiesStream) and not stream.path.exists():
                    continue
                try:
                    table = stream.load()  # type: ignore[attr-defined]
                    result.add(f"{stream.path}", True, f"{table.size:,} bytes, {table.encoding}")  # type: ignore[attr-defined]
                except ConfigError as exc:
                    result.add(f"{folder / stream.file_name}", False, str(exc))  # type: ignore[attr-defined]
        if self.settings.output is not None and (not roles or roles & {Capability.SCORES, Capability.TASKS}):
            folder = self.output_folder
            if folder.is_dir():
                writable = os.access(folder, os.W_OK | os.X_OK)
                result.add(f"output folder {folder}", writable, "writable" if writable else "not writable")
            else:
                parent = next((p for p in folder.absolute().parents if p.exists()), None)
                creatable = parent is not None and os.access(parent, os.W_OK | os.X_OK)
                result.add(
                    f"output folder {folder}", creatable, "will be created" if creatable else "missing and cannot be created"
                )
        return result

    def setup(self) -> list[str]:
        if self.settings.output is None or self.output_folder.is_dir():
            return []
        self.output_folder.mkdir(parents=True, exist_ok=True)
        return [f"created folder {self.output_folder}"]


@hookimpl
def register_connectors(register: Any) -> None:
    register(FileConnector)
