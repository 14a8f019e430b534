"""The hooks leadsync calls. Each is documented with an example in docs/plugins/hooks.md."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pluggy import HookimplMarker, HookspecMarker

if TYPE_CHECKING:
    import click

    from leadsync.connectors.base import Connector, TaskRequest
    from leadsync.core.models import Handoff, Lead, Score

hookspec = HookspecMarker("leadsync")
hookimpl = HookimplMarker("leadsync")

__all__ = ["hookimpl", "hookspec"]


@hookspec
def register_connectors(register: Callable[[type[Connector]], None]) -> None:
    """Register connector classes: call ``register(ConnectorClass)`` once per class."""


@hookspec
def register_scoring_conditions(register: Callable[[str, Callable[[str], Any]], None]) -> None:
    """Register extra condition kinds for the scoring sheet's rule language:
    ``register(name, factory)`` where ``factory(argument: str) -> Condition``."""


@hookspec
def normalize_lead(lead: Lead, connection: str) -> Lead | None:
    """Adjust a lead after its connector normalized it; return a new Lead or None to keep it."""


@hookspec(firstresult=True)
def route_owner(lead: Lead, score: Score, owners: list[str]) -> str | None:
    """Choose the owner of a new handoff; the first non-None answer wins."""


@hookspec
def handoff_created(handoff: Handoff, task: TaskRequest) -> None:
    """Called after a handoff's task was acknowledged by the CRM."""


@hookspec
def handoff_overdue(handoff: Handoff, lead: Lead | None) -> None:
    """Called once when an open handoff passes its due time with no first touch."""


@hookspec
def register_notify_channels(register: Any) -> None:
    """Register notification channel kinds: call ``register(ChannelClass)`` once per class
    (a ``leadsync.core.notify.Channel`` subclass with its ``kind`` and ``settings_model``)."""


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add click commands to the ``leadsync`` command group."""
