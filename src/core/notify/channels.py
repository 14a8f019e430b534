"""Notification channels: the base class, delivery outcomes, and opening `[notify.channels.NAME]`."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from leadsync.connectors.redact import register_secret
from leadsync.core.config import Settings, describe_key
from leadsync.core.errors import ConfigError
from leadsync.core.notify.messages import EVENTS, Notice

__all__ = ["Channel", "ChannelSettings", "NotDelivered", "Refused", "channel_kinds", "open_channels"]


class NotDelivered(Exception):
    """The channel answered, or could not be reached: the notice was certainly not delivered; retry later."""


class Refused(Exception):
    """The channel refused this notice for good (bad URL, bad payload): retrying will not help."""


class ChannelSettings(BaseModel):
    """Keys every channel table has. Secret fields are `SecretStr`, so they never print."""

    model_config = ConfigDict(extra="forbid")

    kind: str
    events: list[str] = Field(default_factory=lambda: ["handoff_created", "handoff_overdue", "run_failed",
                                                       "dead_letters"])
    language: str | None = None  # default: [notify] language, else handoff.language
    timeout_s: float = Field(10, gt=0)

    def model_post_init(self, context: Any) -> None:
        unknown = [e for e in self.events if e not in EVENTS or e == "test"]
        if unknown:
            raise ValueError(f"unknown event(s) {', '.join(unknown)} (known: {', '.join(EVENTS[:-1])})")
        if self.language not in (None, "ja", "en"):
            raise ValueError(f"language must be \"ja\" or \"en\", not {self.language!r}")


class Channel:
    """One configured channel. Subclasses set `kind` and `settings_model` and implement `send`.

    `send` returns when the channel acknowledged the notice; raises `NotDelivered` when it
    certainly was not delivered (connection refused, an error answer) and `Refused` when it never
    will be; any other exception means the outcome is unknown (a timeout after sending).
    `idempotent` says whether the receiver recognises a resent notice by its key (e-mail's
    Message-ID, the generic webhook's Idempotency-Key): only then is an unknown outcome resent.
    """

    kind: ClassVar[str] = ""
    settings_model: ClassVar[type[ChannelSettings]] = ChannelSettings
    idempotent: ClassVar[bool] = False

    def __init__(self, name: str, settings: ChannelSettings) -> None:
        self.name = name
        self.settings = settings

    def send(self, notice: Notice) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        """Release connections; called once after the run's notices are sent."""


def channel_kinds(host: Any) -> dict[str, type[Channel]]:
    """Channel classes by kind, from every plugin's `register_notify_channels`."""
    found: dict[str, type[Channel]] = {}
    for impl in host.hook.register_notify_channels.get_hookimpls():
        impl.function(register=lambda cls: found.setdefault(cls.kind, cls))
    return found


def open_channels(settings: Settings, host: Any, only: str | None = None) -> dict[str, Channel]:
    """Validate `[notify.channels.*]` against their kinds; ConfigError (exit 2) names the key."""
    kinds = channel_kinds(host)
    where = str(settings.config_path) if settings.config_path else "configuration"
    channels: dict[str, Channel] = {}
    tables = settings.notify.channels
    if only is not None and only not in tables:
        raise ConfigError(f"{where}: no notification channel named {only!r} "
                          f"(configured: {', '.join(tables) or 'none'})")
    for name, table in tables.items():
        if only is not None and name != only:
            continue
        kind = table.get("kind")
        if kind not in kinds:
            raise ConfigError(describe_key(settings.config_path, ("notify", "channels", name, "kind"),
                                           f"unknown channel kind {kind!r} (known: {', '.join(sorted(kinds))})"))
        cls = kinds[kind]
        try:
            model = cls.settings_model.model_validate(table)
        except ValidationError as exc:
            problems = []
            for error in exc.errors():
                message = "unknown key" if error["type"] == "extra_forbidden" else str(error["msg"])
                problems.append(describe_key(settings.config_path, ("notify", "channels", name, *error["loc"]),
                                             message.removeprefix("Value error, ")))
            raise ConfigError("; ".join(problems)) from None
        for field_name in type(model).model_fields:
            value = getattr(model, field_name)
            if isinstance(value, SecretStr):
                register_secret(value)
        channels[name] = cls(name, model)
    return channels
