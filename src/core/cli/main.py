"""The `leadsync` command group: global options, error handling, and the command modules."""

from __future__ import annotations

import logging
import re
import sys

import click

from leadsync import __version__
from leadsync.core.cli.app import App
from leadsync.core.errors import LeadsyncError
from leadsync.core.logs import setup_logging

__all__ = ["cli", "main"]

log = logging.getLogger(__name__)


# Options of the `leadsync` group that are also accepted after the subcommand's name.
_GLOBAL_WITH_VALUE = ("--config", "--log-format")
_GLOBAL_FLAGS = ("--verbose",)


def hoist_global_options(args: list[str]) -> list[str]:
    """Move global options given after the subcommand to the front, so click's group parses them.

    `leadsync sync run --config x.toml -v` becomes `leadsync --config x.toml -v sync run`.
    Nothing after a bare `--` moves.
    """
    front: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            rest.extend(args[index:])
            break
        if arg in _GLOBAL_WITH_VALUE and index + 1 < len(args):
            front.extend(args[index:index + 2])
            index += 2
            continue
        if arg.split("=", 1)[0] in _GLOBAL_WITH_VALUE and "=" in arg:
            front.append(arg)
        elif arg in _GLOBAL_FLAGS or re.fullmatch(r"-v+", arg):
            front.append(arg)
        else:
            rest.append(arg)
        index += 1
    return front + rest


class LeadsyncGroup(click.Group):
    """The top-level group: global options anywhere on the line; errors end as one line and a status."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(list(args)))

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except LeadsyncError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=LeadsyncGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="leadsync")
@click.option("--config", "config_path", envvar="LEADSYNC_CONFIG", metavar="PATH",
              help="leadsync.toml to use (default: ./leadsync.toml). Accepted before or after the subcommand.")
@click.option("--log-format", type=click.Choice(["text", "json"]),
              help="Log format on stderr (default: text on a terminal, else JSON lines).")
@click.option("-v", "--verbose", count=True, help="More log detail (debug). Accepted anywhere on the line.")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, log_format: str | None, verbose: int) -> None:
    """Sync leads between MA and CRM, score them, and hand hot leads to sales."""
    app = App(config_path=config_path, log_format=log_format, verbose=verbose)
    ctx.obj = app
    ctx.call_on_close(app.close)
    setup_logging(log_format, verbose=verbose)


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


def _early_log_format(args: list[str]) -> str | None:
    """--log-format from the command line, read before click parses it (plugin warnings come first)."""
    hoisted = hoist_global_options(args)
    for index, arg in enumerate(hoisted):
        if arg == "--log-format" and index + 1 < len(hoisted):
            return hoisted[index + 1]
        if arg.startswith("--log-format="):
            return arg.split("=", 1)[1]
    return None


def main() -> None:
    try:
        fmt = _early_log_format(sys.argv[1:])
        setup_logging(fmt if fmt in ("text", "json") else None)
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
    from leadsync.core.cli.projects import projects
    from leadsync.core.cli.state import state
    from leadsync.core.cli.sync import sync

    for command in (sync, plugins, connections, projects, state):
        cli.add_command(command)


_add_commands()


def _add_handoff_commands() -> None:
    """`handoff` (preview, status) and `report` (feedback)."""
    from leadsync.core.cli.handoff import handoff
    from leadsync.core.cli.notify import notify
    from leadsync.core.cli.quality import quality
    from leadsync.core.cli.report import report

    cli.add_command(handoff)
    cli.add_command(report)
    cli.add_command(quality)
    cli.add_command(notify)


_add_handoff_commands()


def _add_init_command() -> None:
    """`init`: starter config, scoring sheet and demo data."""
    from leadsync.core.cli.doctor import doctor
    from leadsync.core.cli.init import init

    cli.add_command(init)
    cli.add_command(doctor)


_add_init_command()


def _add_score_commands() -> None:
    """`score` (explain, lint, backtest)."""
    from leadsync.core.cli.score import score

    cli.add_command(score)


_add_score_commands()


def _add_kpi_commands() -> None:
    """Inside-sales KPIs: `report funnel|call-timing|mql|html`, `plan`, `score calibrate`."""
    from leadsync.core.cli.calibrate import calibrate
    from leadsync.core.cli.kpi import call_timing, funnel, mql, plan
    from leadsync.core.cli.kpi_html import html
    from leadsync.core.cli.report import report
    from leadsync.core.cli.score import score

    for command in (funnel, call_timing, mql, html):
        report.add_command(command)
    score.add_command(calibrate)
    cli.add_command(plan)


_add_kpi_commands()
