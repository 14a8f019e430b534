"""`leadsync report funnel | call-timing | mql` and `leadsync plan`: the inside-sales KPIs."""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from datetime import date
from typing import Any

import click

from leadsync.connectors.spreadsheet import safe_cell
from leadsync.core.cli.app import App, as_of_option, pass_app
from leadsync.core.cli.handoff import wide_table
from leadsync.core.cli.output import echo_json
from leadsync.core.reports.funnel import STAGES, WEEKDAYS, WEEKDAYS_JA
from leadsync.core.reports.periods import Period, period_from

__all__ = ["call_timing", "funnel", "mql", "period_options", "plan", "resolve_period", "write_csv"]

FORMAT = click.Choice(["table", "json", "csv"])
RATE_NAMES = ("connect_rate", "conversation_rate", "meeting_rate", "opportunity_rate", "win_rate")


def period_options(func: Any) -> Any:
    """`--from`, `--to` (dates, both inclusive, in scoring.timezone), `--format`, `--as-of`."""
    func = click.option("--format", "fmt", type=FORMAT, default="table", show_default=True, help="Output format.")(func)
    func = click.option("--to", "to_date", type=click.DateTime(["%Y-%m-%d"]), metavar="DATE",
                        help="Last day, inclusive (default: today).")(func)
    func = click.option("--from", "from_date", type=click.DateTime(["%Y-%m-%d"]), metavar="DATE",
                        help="First day, inclusive (default: 30 days before --to).")(func)
    return as_of_option(func)


def resolve_period(app: App, from_date: Any, to_date: Any, as_of: str | None) -> Period:
    zone = app.settings.scoring.timezone
    today = app.now(as_of).astimezone(Period(date.today(), date.today(), zone).tz).date()
    try:
        return period_from(from_date.date() if from_date else None, to_date.date() if to_date else None, zone, today)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--from") from None


def write_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """CSV on stdout (UTF-8); text cells neutralised against spreadsheet formulas."""
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else (safe_cell(v) if isinstance(v, str) else v) for v in row])
    sys.stdout.flush()


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _bench(low_high: dict[str, float] | None) -> str:
    return f"{low_high['low']:.0%}-{low_high['high']:.0%}" if low_high else ""


@click.command("funnel")
@click.option("--by", type=click.Choice(["source", "owner", "month", "week", "segment"]), help="Group the funnel.")
@period_options
@pass_app
def funnel(app: App, by: str | None, from_date: Any, to_date: Any, fmt: str, as_of: str | None) -> None:
    """Calls, connects, conversations, meetings, opportunities and wins, with rates beside the benchmarks."""
    from leadsync.core.reports.kpi import build_funnel

    period = resolve_period(app, from_date, to_date, as_of)
    data = build_funnel(app.open_store(readonly=True), app.settings, period, by)
    if fmt == "json":
        echo_json(data)
        return
    columns = ["group", *STAGES, *RATE_NAMES]
    rows = [["(total)", *data["stages"].values(), *data["rates"].values()]]
    rows += [[g.get("label", g["key"]), *g["stages"].values(), *g["rates"].values()] for g in data["groups"]]
    if fmt == "csv":
        write_csv(columns, rows)
        return
    bench = data["benchmarks"]
    activity = data["activity"]
    click.echo(f"{data['from']} .. {data['to']}: {activity['business_days']} business days, {activity['reps']} reps, "
               f"{activity['calls_per_rep_per_day'] if activity['calls_per_rep_per_day'] is not None else '-'} "
               f"calls per rep per day (benchmark {bench['calls_per_rep_per_day']:g})")
    labels = {"calls": "架電", "connects": "通電", "conversations": "有効会話(2分以上)", "meetings_set": "商談獲得",
              "meetings_held": "商談実施", "opportunities": "案件化", "wins": "受注", "losses": "失注"}
    wide_table("Funnel", ["stage", "count"], [[f"{labels[s]} {s}", n] for s, n in data["stages"].items()])
    wide_table("Rates", ["rate", "value", "benchmark"],
               [[name, pct(value), _bench(bench.get(name))] for name, value in data["rates"].items()])
    if data["groups"]:
        head = ["group", "calls", "connects", "meetings_set", "opportunities", "wins", "connect", "meeting",
                "opportunity", "win"]
        if by == "source":
            head.append("meeting benchmark")
        if by == "owner":
            head.append("calls/day")
        table = []
        for g in data["groups"]:
            s, r = g["stages"], g["rates"]
            line = [g.get("label", g["key"]), s["calls"], s["connects"], s["meetings_set"], s["opportunities"], s["wins"],
                    pct(r["connect_rate"]), pct(r["meeting_rate"]), pct(r["opportunity_rate"]), pct(r["win_rate"])]
            if by == "source":
                line.append(_bench((g.get("benchmark") or {}).get("meeting_rate")))
            if by == "owner":
                line.append(g.get("calls_per_day"))
            table.append(line)
        wide_table(f"By {by}", head, table)


@click.command("call-timing")
@period_options
@pass_app
def call_timing(app: App, from_date: Any, to_date: Any, fmt: str, as_of: str | None) -> None:
    """Connect rate by weekday and hour (scoring.timezone), with the best slots."""
    from leadsync.core.reports.kpi import build_call_timing

    period = resolve_period(app, from_date, to_date, as_of)
    data = build_call_timing(app.open_store(readonly=True), app.settings, period)
    if fmt == "json":
        echo_json(data)
        return
    if fmt == "csv":
        write_csv(["weekday", "hour", "calls", "connects", "connect_rate"],
                  [[c["weekday"], c["hour"], c["calls"], c["connects"], c["connect_rate"]] for c in data["cells"]])
        return
    click.echo(f"{data['from']} .. {data['to']}: {data['calls']} calls, {data['connects']} connects "
               f"({pct(data['connect_rate'])})")
    hours = sorted({c["hour"] for c in data["cells"]})
    grid = {(c["weekday"], c["hour"]): c for c in data["cells"]}
    table = []
    for en, ja in zip(WEEKDAYS, WEEKDAYS_JA, strict=True):
        if any((en, h) in grid for h in hours):
            table.append([ja] + [
                f"{pct(grid[(en, h)]['connect_rate'])} ({grid[(en, h)]['calls']})" if (en, h) in grid else ""
                for h in hours])
    wide_table("通電率 (calls) by weekday x hour", ["", *[f"{h}時" for h in hours]], table)
    wide_table("Best slots", ["weekday", "hour", "calls", "connects", "connect rate"],
               [[WEEKDAYS_JA[WEEKDAYS.index(b["weekday"])], f"{b['hour']}:00", b["calls"], b["connects"],
                 pct(b["connect_rate"])] for b in data["best"]])


@click.command("mql")
@click.option("--by", type=click.Choice(["segment", "score_band", "source"]), help="Group the handoffs.")
@period_options
@pass_app
def mql(app: App, by: str | None, from_date: Any, to_date: Any, fmt: str, as_of: str | None) -> None:
    """From handoff to accepted, meeting, opportunity and won: pass rates and MA score x pass rate x win rate."""
    from leadsync.core.reports.kpi import build_mql

    period = resolve_period(app, from_date, to_date, as_of)
    data = build_mql(app.open_store(readonly=True), period, by, app.settings.handoff.language)
    if fmt == "json":
        echo_json(data)
        return
    columns = ["group", "handoffs", "accepted", "meetings", "opportunities", "won", "pass_rate", "meeting_rate",
               "opportunity_rate", "win_rate", "handoff_to_won", "mean_score", "indicator"]

    def line(key: str, e: dict[str, Any], fmt_rate: Any) -> list[Any]:
        return [key, e["handoffs"], e["accepted"], e["meetings"], e["opportunities"], e["won"],
                *[fmt_rate(v) for v in e["rates"].values()], e["mean_score"], e["indicator"]]

    rows_csv = [line("(total)", data, lambda v: v)] + [line(g.get("label", g["key"]), g, lambda v: v) for g in data["groups"]]
    if fmt == "csv":
        write_csv(columns, rows_csv)
        return
    click.echo(f"{data['from']} .. {data['to']}: {data['handoffs']} handoffs")
    wide_table("MQL -> won", columns, [line("(total)", data, pct)] + [line(g.get("label", g["key"]), g, pct) for g in data["groups"]])


@click.command("plan")
@click.option("--meetings", type=click.IntRange(min=1), help="Goal: meetings to set (商談獲得数).")
@click.option("--revenue", type=click.FloatRange(min=0, min_open=True), help="Goal: revenue (受注金額).")
@click.option("--month", metavar="YYYY-MM", help="Plan for this calendar month.")
@click.option("--days", type=click.IntRange(min=1), help="Plan for the next D days (default 30).")
@click.option("--reps", type=click.IntRange(min=1), help="Reps sharing the calls (default: the reps who called "
              "in the history window).")
@click.option("--history-days", type=click.IntRange(min=1), default=90, show_default=True,
              help="Days of the team's history the rates come from.")
@click.option("--deal-size", type=click.FloatRange(min=0, min_open=True),
              help="Average won amount (default: from the history).")
@click.option("--connect-rate", type=float, help="Use this connect rate (0-1) instead of the history.")
@click.option("--meeting-rate", type=float, help="Use this meeting rate (connect -> meeting set).")
@click.option("--opportunity-rate", type=float, help="Use this opportunity rate (meeting held -> opportunity).")
@click.option("--win-rate", type=float, help="Use this win rate (won / closed).")
@click.option("--format", "fmt", type=FORMAT, default="table", show_default=True, help="Output format.")
@as_of_option
@pass_app
def plan(app: App, meetings: int | None, revenue: float | None, month: str | None, days: int | None,
         reps: int | None, history_days: int, deal_size: float | None, connect_rate: float | None,
         meeting_rate: float | None, opportunity_rate: float | None, win_rate: float | None, fmt: str,
         as_of: str | None) -> None:
    """Work back from a goal (meetings or revenue) to the calls each rep must make per business day."""
    from datetime import timedelta

    from leadsync.core.reports.kpi import build_plan
    from leadsync.core.reports.plan import PlanError

    if (meetings is None) == (revenue is None):
        raise click.UsageError("give exactly one goal: --meetings N or --revenue AMOUNT")
    if month and days:
        raise click.UsageError("give --month or --days, not both")
    zone = app.settings.scoring.timezone
    today = app.now(as_of).astimezone(Period(date.today(), date.today(), zone).tz).date()
    if month:
        try:
            year, number = (int(p) for p in month.split("-"))
            first = date(year, number, 1)
        except ValueError:
            raise click.BadParameter(f"{month!r} is not YYYY-MM", param_hint="--month") from None
        last = date(year + (number == 12), number % 12 + 1, 1) - timedelta(days=1)
        target = Period(first, last, zone)
    else:
        target = Period(today, today + timedelta(days=(days or 30) - 1), zone)
    given = {"connect_rate": connect_rate, "meeting_rate": meeting_rate, "opportunity_rate": opportunity_rate,
             "win_rate": win_rate}
    try:
        data = build_plan(app.open_store(readonly=True), app.settings, today=today, meetings=meetings,
                          revenue=revenue, target=target, history_days=history_days, given=given, reps=reps,
                          deal_size=deal_size)
    except PlanError as exc:
        raise click.UsageError(str(exc)) from None
    if fmt == "json":
        echo_json(data)
        return
    steps = [["wins", data["wins"], "win_rate"], ["opportunities", data["opportunities"], "opportunity_rate"],
             ["meetings", data["meetings"], "meeting_rate"], ["connects", data["connects"], "connect_rate"],
             ["calls", data["calls"], ""]]
    if fmt == "csv":
        rows = [[name, value, rate, data["rates"][rate]["value"] if rate else None,
                 data["rates"][rate]["source"] if rate else None] for name, value, rate in steps]
        rows += [["business_days", data["business_days"], "", None, None], ["reps", data["reps"], "", None, None],
                 ["calls_per_rep_per_day", data["calls_per_rep_per_day"], "", None, None]]
        write_csv(["item", "value", "rate", "rate_value", "rate_source"], rows)
        return
    goal = ", ".join(f"{k} {v:,}" for k, v in data["targets"].items())
    click.echo(f"goal: {goal} ({data['from']} .. {data['to']}, {data['business_days']} business days, "
               f"{data['reps']} reps)")
    wide_table("Back-calculation", ["step", "needed", "rate", "value", "from"],
               [[name, value, rate, pct(data["rates"][rate]["value"]) if rate else "",
                 data["rates"][rate]["source"] if rate else ""] for name, value, rate in steps])
    click.echo(f"calls per rep per business day: {data['calls_per_rep_per_day']}")
