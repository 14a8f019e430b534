"""The built-in notification plugin: the slack, teams, webhook and email channel kinds."""

from __future__ import annotations

from typing import Any

from leadsync.connectors.hookspecs import hookimpl

__all__ = ["register_notify_channels"]


@hookimpl
def register_notify_channels(register: Any) -> None:
    from leadsync.core.notify.mail import EmailChannel
    from leadsync.core.notify.webhooks import SlackChannel, TeamsChannel, WebhookChannel

    for cls in (SlackChannel, TeamsChannel, WebhookChannel, EmailChannel):
        register(cls)
