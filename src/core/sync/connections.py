"""Turning `[connections.NAME]` tables into connector instances, with errors that name the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError

from leadsync.connectors.base import Capability, Connector
from leadsync.connectors.plugins import PluginHost
from leadsync.core.config import Settings, describe_key
from leadsync.core.errors import ConfigError

__all__ = ["connection_names", "open_connection", "open_connections", "secrets_of", "task_connection"]


def _where(settings: Settings) -> str:
    return str(settings.config_path) if settings.config_path else "configuration"


def connection_names(settings: Settings, role: Capability | None = None) -> list[str]:
    names = []
    for name, table in settings.connections.items():
        if role is None or role.value in (table.get("roles") or []):
            names.append(name)
    return names


def task_connection(settings: Settings) -> str | None:
    """The connection that receives handoff tasks: configured, else the first with the tasks role."""
    if settings.handoff.task_connection:
        return settings.handoff.task_connection
    names = connection_names(settings, Capability.TASKS)
    return names[0] if names else None


def secrets_of(model: Any) -> list[str]:
    """Every SecretStr value in a settings model, for redaction."""
    found: list[str] = []
    for value in (getattr(model, name) for name in type(model).model_fields):
        if isinstance(value, SecretStr) and value.get_secret_value():
            found.append(value.get_secret_value())
    return found


def open_connection(settings: Settings, host: PluginHost, name: str) -> Connector:
    """Validate one connection table against its plugin's settings model and build the connector."""
    where = _where(settings)
    if name not in settings.connections:
        known = ", ".join(settings.connections) or "none"
        raise ConfigError(f"{where}: no connection named {name!r} (configured: {known})")
    table = dict(settings.connections[name])
    plugin = table.get("plugin")
    if not plugin:
        raise ConfigError(f"{where}: connections.{name}.plugin: required (for example \"file\" or \"hubspot\")")
    connectors = host.connectors()
    if plugin not in connectors:
        failed = [f.name for f in host.failures]
        hint = f"; plugins that failed to load: {', '.join(failed)}" if failed else ""
        raise ConfigError(
            f"{where}: connections.{name}.plugin: no installed plugin provides {plugin!r} "
            f"(try `leadsync plugins install {plugin}`; available: {', '.join(sorted(connectors))}{hint})"
        )
    cls = connectors[plugin]
    try:
        model = cls.settings_model.model_validate(table)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            message = "unknown key" if error["type"] == "extra_forbidden" else str(error["msg"])
            problems.append(describe_key(settings.config_path, ("connections", name, *error["loc"]),
                                         message.removeprefix("Value error, ")))
        raise ConfigError("; ".join(problems)) from None
    unsupported = [role.value for role in model.roles if role not in cls.capabilities]
    if unsupported:
        raise ConfigError(
            f"{where}: connections.{name}.roles: {plugin} cannot do {', '.join(unsupported)} "
            f"(it can: {', '.join(sorted(c.value for c in cls.capabilities))})"
        )
    for field_name in type(model).model_fields:  # relative paths are relative to the config file
        value = getattr(model, field_name)
        if isinstance(value, Path) and not value.is_absolute():
            setattr(model, field_name, settings.resolve(value))
    _register_secrets(secrets_of(model))
    return cls(name, model, timezone=settings.scoring.timezone)


def open_connections(settings: Settings, host: PluginHost, only: str | None = None) -> dict[str, Connector]:
    names = [only] if only else list(settings.connections)
    return {name: open_connection(settings, host, name) for name in names}


def _register_secrets(values: list[str]) -> None:
    try:
        from leadsync.connectors.redact import register_secret
    except ImportError:  # pragma: no cover - toolkit always ships it
        return
    for value in values:
        register_secret(value)
