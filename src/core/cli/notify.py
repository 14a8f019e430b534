"""`leadsync notify test NAME`: send a test notice to one configured channel."""

from __future__ import annotations

import time

import click

from leadsync.connectors.redact import redact
from leadsync.core.cli.app import App, pass_app
from leadsync.core.errors import EXIT_CONNECTION
from leadsync.core.notify import NotDelivered, Refused, open_channels, render
from leadsync.core.notify.deliver import language_of

__all__ = ["notify"]


@click.group("notify")
def notify() -> None:
    """Notification channels ([notify.channels.NAME])."""


@notify.command("test")
@click.argument("name")
@pass_app
def test_command(app: App, name: str) -> None:
    """Send a test notice to channel NAME now (not through the outbox; nothing is recorded)."""
    channel = open_channels(app.settings, app.host, only=name)[name]
    notice = render("test", f"notice:test:{int(time.time())}:{name}", {"channel": name},
                    language=language_of(channel, app.settings), tz=app.settings.scoring.timezone)
    try:
        channel.send(notice)
    except (NotDelivered, Refused, Exception) as exc:  # noqa: B014 - each is a failure to report
        kind = "refused" if isinstance(exc, Refused) else "not delivered"
        click.echo(f"Error: {name} ({channel.kind}): {kind}: {redact(exc)}", err=True)
        raise click.exceptions.Exit(EXIT_CONNECTION) from None
    finally:
        channel.close()
    click.echo(f"sent a test notice to {name} ({channel.kind})")
