"""The `leadsync` command group: global options, error handling, and the command modules."""

from __future__ import annotations

import logging
import sys

import click

from leadsync import __version__
from leadsync.core.cli.app import App
from leadsync.core.errors import LeadsyncError

__all__ = ["cli", "main"]

log = logging.getLogger(__name__)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="leadsync")
@click.option("--config", "config_path", envvar="LEADSYNC_CONFIG", metavar="PATH", help="leadsync.toml to use.")
@click.option("--log-format", type=click.Choice(["text", "json"]), help="Log format (default: text on a terminal).")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, log_format: str | None) -> None:
    """Sync leads between MA and CRM, score them, and hand hot leads to sales."""
    app = App(config_path=config_path, log_format=log_format)
    ctx.obj = app
    ctx.call_on_close(app.close)


def _add_plugin_commands() -> None:
    """Let plugins add commands; one that fails is reported and skipped, never fatal."""
    from leadsync.connectors.plugins import get_plugin_host

    host = get_plugin_host()
    App.default_host = host
    for impl in host.pm.hook.register_commands.get_hookimpls():
        try:
            impl.function(cli=cli)
        except Exception as exc:
            log.warning("plugin %s failed to add its commands: %s", impl.plugin_name, exc)


def main() -> None:
    try:
        _add_plugin_commands()
        # Without standalone mode click returns ctx.exit()'s status instead of exiting with it.
        status = cli.main(standalone_mode=False)
        sys.exit(status if isinstance(status, int) else 0)
    except LeadsyncError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if isinstance(exc, click.UsageError) else exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


def _add_commands() -> None:
    """Command modules, each a click group of its own."""
    from leadsync.core.cli.connections import connections
    from leadsync.core.cli.plugins import plugins
    from leadsync.core.cli.sync import sync

    for command in (sync, plugins, connections):
        cli.add_command(command)


_add_commands()


def _add_handoff_commands() -> None:
    """`handoff` (preview, status) and `report` (feedback)."""
    from leadsync.core.cli.handoff import handoff
    from leadsync.core.cli.report import report

    cli.add_command(handoff)
    cli.add_command(report)


_add_handoff_commands()


def _add_init_command() -> None:
    """`init`: starter config, scoring sheet and demo data."""
    from leadsync.core.cli.init import init

    cli.add_command(init)


_add_init_command()


def _add_score_commands() -> None:
    """`score` (explain, lint, backtest)."""
    from leadsync.core.cli.score import score

    cli.add_command(score)


_add_score_commands()
