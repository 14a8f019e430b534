"""Configuration (docs/configuration.md): one TOML file, overridable by LEADSYNC_* variables and .env.

Precedence, highest first: environment, ``.env`` beside the config file, the secrets directory,
the TOML file. Relative paths in the file are relative to the file's folder, so cron can run
leadsync from anywhere.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from leadsync.core.errors import ConfigError
from leadsync.core.state.target import StateTarget, from_settings
from leadsync.core.workcalendar import holiday_set, parse_business_hours, parse_closed_dates, parse_workdays

__all__ = [
    "HandoffSettings",
    "KpiSettings",
    "NotifySettings",
    "QualitySettings",
    "ScoringSettings",
    "Settings",
    "StateSettings",
    "SyncSettings",
    "describe_key",
    "find_config",
    "load_settings",
]

DEFAULT_CONFIG = "leadsync.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StateSettings(_Section):
    """Where the state lives: the SQLite file `path` (default), or PostgreSQL when `url` is set."""

    path: Path = Path(".leadsync/state.db")
    # postgresql://user@host:5432/db (docs/operations.md, "PostgreSQL"); env LEADSYNC_STATE__URL
    url: str | None = None
    # the project's name in a shared database (its schema is leadsync_<project>); default: derived
    # from the config file's path
    project: str | None = None
    # the PostgreSQL password, if not in the URL, PGPASSWORD or ~/.pgpass
    password: SecretStr | None = None
    password_file: Path | None = None
    # `leadsync state vacuum` deletes bookkeeping older than this (score history, runs, acknowledged
    # outbox rows and dead letters; docs/operations.md); 0 keeps everything.
    keep_days: int = Field(180, ge=0)


class ScoringSettings(_Section):
    sheet: Path = Path("scoring-sheet.csv")
    window_days: int = Field(90, gt=0)
    timezone: str = "Asia/Tokyo"
    # Web visits whose URL matches one of these glob patterns count as pricing-page views.
    pricing_url_patterns: list[str] = Field(
        default_factory=lambda: ["*/pricing*", "*/price*", "*/plans*", "*/plan/*", "*料金*"]
    )
    # Optional decay of behaviour points: a point earned this many days ago counts half.
    half_life_days: float | None = Field(None, gt=0)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (expected an IANA name such as Asia/Tokyo)") from None
        return value


class HandoffSettings(_Section):
    sla_business_hours: float = Field(9, gt=0)
    # When set, the SLA counts calendar hours instead of business hours.
    sla_calendar_hours: float | None = Field(None, gt=0)
    business_hours: str = "09:00-18:00"
    workdays: str = "mon-fri"
    holidays: str | None = "JP"
    closed_dates: list[str] = Field(default_factory=lambda: ["12-29", "12-30", "12-31", "01-02", "01-03"])
    cooldown_days: int = Field(30, ge=0)
    expire_days: int = Field(30, gt=0)
    owners: list[str] = Field(default_factory=list)
    # CRM lead statuses that mean "rejected by sales": the lead is recycled to nurture.
    rejected_statuses: list[str] = Field(
        default_factory=lambda: ["Unqualified", "Rejected", "Disqualified", "Recycled", "不適格", "見送り", "対象外"]
    )
    language: Literal["ja", "en"] = "ja"
    # The connection that receives tasks; default: the first connection with the "tasks" role.
    task_connection: str | None = None
    # Optional routing rules: [{field = "industry", equals = "製造業", owner = "005..."}]
    routing: list[dict[str, str]] = Field(default_factory=list)
    # A lead handed off before is a new MQL only after its score fell to this segment (or lower).
    requalify_segment: Literal["cold", "warm"] = "cold"
    # How many breakdown reasons and recent activities the task body lists.
    task_reasons: int = Field(3, ge=1, le=20)
    task_activities: int = Field(5, ge=0, le=50)

    @field_validator("business_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        _calendar_check(parse_business_hours, value)
        return value.strip()

    @field_validator("closed_dates")
    @classmethod
    def _dates(cls, values: list[str]) -> list[str]:
        for value in values:
            if not re.fullmatch(r"(\d{4}-)?\d{2}-\d{2}", value):
                raise ValueError(f"{value!r} is not MM-DD or YYYY-MM-DD")
        _calendar_check(parse_closed_dates, values)
        return values

    @field_validator("workdays")
    @classmethod
    def _workdays(cls, value: str) -> str:
        _calendar_check(parse_workdays, value)
        return value

    @field_validator("holidays")
    @classmethod
    def _holidays(cls, value: str | None) -> str | None:
        if value and value.strip():
            _calendar_check(holiday_set, value.strip().upper())
        return value


def _calendar_check(parse: Any, value: Any) -> None:
    """Run a calendar parser at load time; its ConfigError becomes this key's validation error."""
    try:
        parse(value)
    except ConfigError as exc:
        raise ValueError(str(exc).split(": ", 1)[-1]) from None


class SyncSettings(_Section):
    lookback_minutes: float = Field(5, ge=0)
    reconcile_hours: float = Field(24, ge=0)
    clock_skew_warn_s: float = Field(60, ge=0)
    max_duration_minutes: float | None = Field(None, gt=0)


class KpiSettings(_Section):
    """Inside-sales KPI definitions (reports funnel, call-timing, mql; plan)."""

    # A call connects when it lasts this long, or its outcome is one of connected_outcomes.
    connect_seconds: int = Field(1, ge=0)
    # An effective conversation (有効架電) lasts at least this long.
    conversation_seconds: int = Field(120, ge=0)
    connected_outcomes: list[str] = Field(
        default_factory=lambda: ["connected", "conversation", "meeting_booked", "gatekeeper"]
    )
    # A rate measured on fewer cases than this falls back to the benchmark in `leadsync plan`.
    min_history: int = Field(30, ge=1)
    # The benchmark for calls per rep per business day (2025 average).
    calls_per_day_benchmark: float = Field(34, gt=0)
Action = Literal["warn", "quarantine", "off"]


class QualitySettings(_Section):
    """The data-quality gate (docs/quality.md): one action per rule, and the rules' lists."""

    free_mail: Action = "warn"
    free_mail_domains: list[str] = Field(default_factory=list)  # added to the built-in list
    role_address: Action = "warn"
    role_prefixes: list[str] = Field(default_factory=list)  # added to the built-in list
    required_fields: Action = "warn"
    required: list[str] = Field(default_factory=list)
    test_data: Action = "warn"
    test_markers: list[str] = Field(default_factory=list)  # added to the built-in list
    competitor: Action = "quarantine"
    competitors: list[str] = Field(default_factory=list)
    conflict: Action = "warn"

    @field_validator("required")
    @classmethod
    def _known_fields(cls, values: list[str]) -> list[str]:
        from leadsync.core.models import Lead

        unknown = [v for v in values if v not in Lead.model_fields or v in ("key", "refs", "custom")]
        if unknown:
            raise ValueError(f"unknown lead field(s) {', '.join(unknown)} "
                             f"(known: {', '.join(f for f in Lead.model_fields if f not in ('key', 'refs', 'custom'))})")
        return values


class NotifySettings(_Section):
    """Notifications (docs/notifications.md): channels by name, and when to send what."""

    channels: dict[str, dict[str, Any]] = Field(default_factory=dict)
    language: Literal["ja", "en"] | None = None  # default: handoff.language
    dead_letters_threshold: int = Field(1, ge=1)
    digest_hour: int = Field(9, ge=0, le=23)  # local time (scoring.timezone)
    # A link to the CRM record per connection: {crm = "https://app.example.com/leads/{record_id}"}
    record_urls: dict[str, str] = Field(default_factory=dict)


class Settings(BaseSettings):
    """The whole configuration. `config_path` is where it was read from (None: defaults only)."""

    model_config = SettingsConfigDict(
        env_prefix="LEADSYNC_",
        env_nested_delimiter="__",
        extra="forbid",
        nested_model_default_partial_update=True,
    )

    state: StateSettings = Field(default_factory=StateSettings)
    scoring: ScoringSettings = Field(default_factory=ScoringSettings)
    handoff: HandoffSettings = Field(default_factory=HandoffSettings)
    sync: SyncSettings = Field(default_factory=SyncSettings)
    kpi: KpiSettings = Field(default_factory=KpiSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    connections: dict[str, dict[str, Any]] = Field(default_factory=dict)

    config_path: Path | None = Field(None, exclude=True)

    _toml_file: Path | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, dotenv_settings, file_secret_settings]
        if _LOADING.path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=_LOADING.path))
        return tuple(sources)

    @property
    def base_dir(self) -> Path:
        return self.config_path.parent if self.config_path else Path.cwd()

    def resolve(self, path: Path) -> Path:
        """A path from the file, made absolute against the config file's folder."""
        path = Path(os.path.expanduser(path))
        return path if path.is_absolute() else self.base_dir / path

    @property
    def state_path(self) -> Path:
        return self.resolve(self.state.path)

    @property
    def state_target(self) -> StateTarget:
        """The state store this configuration points at (SQLite file or PostgreSQL project)."""
        state = self.state
        return from_settings(
            state.url, self.state_path, state.project, self.config_path,
            password=state.password.get_secret_value() if state.password else None,
            password_file=self.resolve(state.password_file) if state.password_file else None,
        )

    @property
    def sheet_path(self) -> Path:
        return self.resolve(self.scoring.sheet)


class _Loading:
    path: Path | None = None


_LOADING = _Loading()


def find_config(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The config file to use: --config, then LEADSYNC_CONFIG, then ./leadsync.toml if present."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("LEADSYNC_CONFIG")
    if env:
        return Path(env)
    default = Path.cwd() / DEFAULT_CONFIG
    return default if default.exists() else None


def _line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    """Best-effort line number of a key path in TOML text."""
    if not loc:
        return None
    *tables, key = [str(part) for part in loc]
    lines = text.splitlines()
    whole = re.compile(r"^\s*\[\s*" + r"\s*\.\s*".join(re.escape(str(p)) for p in loc) + r"\s*[\].]")
    for number, line in enumerate(lines):  # the key is a table of its own: [handof] or [connections.crm]
        if whole.match(line):
            return number + 1
    start = 0
    if tables:
        header = re.compile(r"^\s*\[\s*" + r"\s*\.\s*".join(re.escape(t) for t in tables) + r"\s*\]\s*$")
        for number, line in enumerate(lines):
            if header.match(line):
                start = number + 1
                break
        else:
            return _line_of(text, tuple(tables))
    key_re = re.compile(r"^\s*\"?" + re.escape(key) + r"\"?\s*=")
    for number in range(start, len(lines)):
        if number > start and lines[number].lstrip().startswith("["):
            break
        if key_re.match(lines[number]):
            return number + 1
    return start or None


def _env_name(loc: tuple[Any, ...]) -> str | None:
    """The LEADSYNC_* variable (environment or .env) that set this key, if one did."""
    wanted = ("LEADSYNC_" + "__".join(str(p) for p in loc)).upper()
    for name in os.environ:
        if name.upper() == wanted:
            return name
    return None


def _message(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key" if len(error["loc"]) > 1 else "unknown section or key"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def describe_key(path: Path | None, loc: tuple[Any, ...], message: str, *, text: str | None = None) -> str:
    """`file:line: key: problem`, or `environment variable NAME: key: problem` when the environment set it."""
    key = ".".join(str(p) for p in loc) or "(top level)"
    env = _env_name(loc)
    if env is not None:
        return f"environment variable {env}: {key}: {message}"
    where = str(path) if path else "configuration"
    if text is None and path is not None:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            text = ""
    line = _line_of(text, loc) if text else None
    return f"{where}:{line}: {key}: {message}" if line else f"{where}: {key}: {message}"


def _describe(path: Path | None, text: str, exc: ValidationError, dotenv: Path | None = None) -> str:
    parts = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        if dotenv is not None and _env_name(loc) is None and _in_dotenv(dotenv, loc):
            key = ".".join(str(p) for p in loc)
            parts.append(f"{dotenv}: LEADSYNC_{'__'.join(str(p) for p in loc).upper()}: {key}: {_message(error)}")
            continue
        parts.append(describe_key(path, loc, _message(error), text=text))
    return "; ".join(parts)


def _in_dotenv(dotenv: Path, loc: tuple[Any, ...]) -> bool:
    wanted = ("LEADSYNC_" + "__".join(str(p) for p in loc)).upper()
    try:
        lines = dotenv.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError):
        return False
    return any(line.split("=", 1)[0].strip().removeprefix("export ").strip().upper() == wanted for line in lines)


def load_settings(path: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Read and validate the configuration; raise ConfigError naming the file and the key."""
    config_path = find_config(path)
    text = ""
    if config_path is not None:
        config_path = config_path.resolve()
        if not config_path.exists():
            raise ConfigError(f"{config_path}: configuration file not found")
        try:
            text = config_path.read_text(encoding="utf-8-sig")
            tomllib.loads(text)
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{config_path}: not UTF-8 text ({exc.reason})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_path}: invalid TOML: {exc}") from None
    _LOADING.path = config_path
    env_file = (config_path.parent if config_path else Path.cwd()) / ".env"
    secrets_dir = os.environ.get("LEADSYNC_SECRETS_DIR")
    try:
        settings = Settings(
            _env_file=env_file if env_file.exists() else None,  # type: ignore[call-arg]
            _secrets_dir=secrets_dir if secrets_dir and Path(secrets_dir).is_dir() else None,  # type: ignore[call-arg]
            config_path=config_path,
            **overrides,
        )
    except ValidationError as exc:
        raise ConfigError(_describe(config_path, text, exc, env_file if env_file.exists() else None)) from None
    finally:
        _LOADING.path = None
    return settings
