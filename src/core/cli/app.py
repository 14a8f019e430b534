"""What every command shares: the loaded configuration, the state store and the plugin host."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import click

from leadsync.connectors.plugins import PluginHost, get_plugin_host
from leadsync.core.config import DEFAULT_CONFIG, Settings, find_config, load_settings
from leadsync.core.errors import ConfigError
from leadsync.core.normalize import parse_datetime
from leadsync.core.state.store import StateStore
from leadsync.core.state.target import open_store

__all__ = ["App", "as_of_option", "pass_app"]


@dataclass
class App:
    """Lazily loads what a command needs, so `--help` and `plugins list` work without a config."""

    # Set by main() so the host that registered plugin commands is the one commands use.
    default_host: ClassVar[PluginHost | None] = None

    config_path: str | None = None
    log_format: str | None = None
    verbose: int = 0
    _stores: list[StateStore] = field(default_factory=list)

    @cached_property
    def settings(self) -> Settings:
        """The configuration; without --config, LEADSYNC_CONFIG or ./leadsync.toml: exit 2, nothing created."""
        if find_config(self.config_path) is None:
            raise ConfigError(
                f"no {DEFAULT_CONFIG} here ({Path.cwd()}) (or pass --config PATH); run `leadsync init` to create one"
            )
        return load_settings(self.config_path)

    @cached_property
    def host(self) -> PluginHost:
        return App.default_host or get_plugin_host()

    def open_store(self, *, readonly: bool = False) -> StateStore:
        store = open_store(self.settings.state_target, readonly=readonly)
        self._stores.append(store)
        return store

    def now(self, as_of: str | None) -> datetime:
        """`--as-of` parsed in the configured time zone, else the current time."""
        if not as_of:
            return datetime.now(timezone.utc)
        try:
            moment = parse_datetime(as_of, self.settings.scoring.timezone)
        except ValueError:
            raise click.BadParameter(f"{as_of!r} is not an ISO 8601 date or time", param_hint="--as-of") from None
        assert moment is not None
        return moment

    def close(self) -> None:
        for store in self._stores:
            store.close()
        self._stores.clear()


pass_app = click.make_pass_decorator(App, ensure=True)


def as_of_option(func: Any) -> Any:
    """`--as-of DATETIME`: evaluate as if now were that moment (docs/getting-started.md)."""
    return click.option(
        "--as-of",
        "as_of",
        metavar="DATETIME",
        help="Evaluate as if now were this moment (ISO 8601; no offset means scoring.timezone).",
    )(func)
