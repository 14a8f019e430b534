"""The plugin manager: built-ins plus the `leadsync` entry-point group, each load isolated.

pluggy's own ``load_setuptools_entrypoints`` lets one broken plugin take the whole CLI down; here
every entry point is loaded and registered on its own, and failures are kept by name for
``leadsync plugins list`` and a one-line warning.
"""

from __future__ import annotations

import importlib
import logging
import os
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from leadsync.connectors import hookspecs
from leadsync.connectors.base import Connector

__all__ = ["BUILTIN_PLUGINS", "PluginFailure", "PluginHost", "get_plugin_host"]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "leadsync"
BUILTIN_PLUGINS = (
    "leadsync.connectors.builtin.file",
    "leadsync.core.notify.notify_channels",
)


@dataclass
class PluginFailure:
    name: str
    error: str


@dataclass
class PluginHost:
    """A pluggy manager with the registered connectors and the plugins that failed to load."""

    pm: pluggy.PluginManager
    failures: list[PluginFailure] = field(default_factory=list)
    # plugin name -> (distribution, version) for plugins that came from an installed package
    dists: dict[str, tuple[str, str]] = field(default_factory=dict)
    _connectors: dict[str, type[Connector]] | None = None

    @property
    def hook(self) -> Any:
        return self.pm.hook

    def connectors(self) -> dict[str, type[Connector]]:
        """Connector classes by their `name`, collected through `register_connectors`."""
        if self._connectors is None:
            found: dict[str, type[Connector]] = {}
            for plugin in self.pm.get_plugins():
                impl = getattr(plugin, "register_connectors", None)
                if impl is None:
                    continue
                try:
                    impl(register=lambda cls: found.setdefault(cls.name, cls))
                except Exception as exc:  # a plugin's own bug must not stop the others
                    self._fail(self.pm.get_name(plugin) or repr(plugin), exc)
            self._connectors = found
        return self._connectors

    def connectors_of(self, plugin: object) -> list[str]:
        names: list[str] = []
        impl = getattr(plugin, "register_connectors", None)
        if impl is not None:
            try:
                impl(register=lambda cls: names.append(cls.name))
            except Exception:
                pass
        return names

    def _fail(self, name: str, exc: BaseException) -> None:
        message = f"{type(exc).__name__}: {exc}"
        self.failures.append(PluginFailure(name, message))
        log.warning("plugin %s failed to load and was skipped: %s", name, message)
        try:
            plugin = self.pm.get_plugin(name)
            if plugin is not None:
                self.pm.unregister(plugin)
        except Exception:
            pass


def _allowed() -> set[str] | None:
    raw = os.environ.get("LEADSYNC_LOAD_PLUGINS")
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


def get_plugin_host(*, load_entrypoints: bool = True) -> PluginHost:
    """Build a plugin manager with the built-ins and, unless disabled, installed plugins.

    ``LEADSYNC_LOAD_PLUGINS`` is an allow-list of entry-point names (empty: no external plugin);
    built-in connectors always load.
    """
    pm = pluggy.PluginManager("leadsync")
    pm.add_hookspecs(hookspecs)
    host = PluginHost(pm)
    for module_name in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name.rsplit(".", 1)[-1])
    if load_entrypoints:
        allowed = _allowed()
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            if allowed is not None and ep.name not in allowed:
                continue
            if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
                continue
            if ep.dist is not None:  # known even when the plugin fails to load
                host.dists[ep.name] = (ep.dist.metadata["Name"], ep.dist.version)
            try:
                plugin = ep.load()
                pm.register(plugin, name=ep.name)
            except Exception as exc:
                host._fail(ep.name, exc)
    while True:  # a hook implementation with a misspelled name fails loudly, but alone
        try:
            pm.check_pending()
            break
        except pluggy.PluginValidationError as exc:
            host._fail(pm.get_name(exc.plugin) or repr(exc.plugin), exc)
    return host
